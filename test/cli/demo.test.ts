import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { main } from '../../src/cli/demo.ts';
import { startDemoSite } from '../../src/cli/demo-site.ts';
import { captureIo, spawnCli } from './support.ts';

describe('switchyard demo', () => {
  it('accounts for all 5,000 URLs against the faulty site, and the broken host trips its breaker', {
    timeout: 60_000,
  }, async () => {
    // A real process with every fault on (slow, hung, reset, 5xx, 429, oversized, redirect
    // loops, a broken host). The deadline: a hung request must not hold the run up, so the whole
    // run ends well inside it — or the child is killed and the test fails saying so.
    const run = spawnCli(['demo', '--urls', '5000', '--quiet']);
    const DEADLINE_MS = 45_000;
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      run.exited,
      new Promise<'deadline'>((resolve) => {
        timer = setTimeout(() => resolve('deadline'), DEADLINE_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    if (code === 'deadline') {
      run.child.kill('SIGKILL');
      assert.fail(`the demo run was still going after ${DEADLINE_MS} ms:\n${run.stderr}`);
    }
    assert.equal(code, 0, run.stderr);
    const out = { stdout: run.stdout };
    assert.match(out.stdout, /5002 of 5002 lines accounted for/);
    const broken = /broken http:\/\/(127\.0\.0\.1:\d+)/.exec(out.stdout)![1]!;
    const breaker = /breaker openings\s+(\d+) \(([^)]*)\)/.exec(out.stdout)!;
    assert.ok(Number(breaker[1]) >= 1);
    assert.ok(breaker[2]!.split(', ').includes(broken), breaker[0]);
    for (const outcome of ['ok', 'circuit_open', 'too_large', 'redirects', 'invalid']) {
      assert.match(out.stdout, new RegExp(`\\n  ${outcome} +\\d+`), `outcome ${outcome}`);
    }
  });

  it('shows the live display on a TTY', { timeout: 60_000 }, async () => {
    const { io, out } = captureIo({ isTTY: true });
    assert.equal(await main(['--urls', '200'], io), 0, out.stderr);
    assert.match(out.stdout, /stage +done +failed +in-flight +queued +rate\/s +p95/);
    assert.ok(out.stdout.includes('\n\u001b[2Kfetch '), 'redrawn rows');
    for (const stage of ['fetch', 'parse', 'store']) {
      assert.match(
        out.stdout,
        new RegExp(`\\u001b\\[2K${stage} +\\d+ +\\d+ +\\d+ +\\d+ +\\d+ +\\S+`),
        stage,
      );
    }
    assert.match(
      out.stdout,
      /\/\d+ \(\d+%\) · ok \d+ · failed \d+ · \d+\/s · ETA /,
      'totals row with ETA',
    );
  });

  it('serves the same page for the same number (deterministic faults)', async () => {
    const site = await startDemoSite({ largeBytes: 1024 });
    try {
      const urls = site.urls(40);
      assert.equal(urls.length, 40);
      assert.equal(new Set(urls.map((u) => new URL(u).host)).size, 4);
      const a = await (await fetch(`${site.bases.www}/page/100`)).text();
      const b = await (await fetch(`${site.bases.www}/page/100`)).text();
      assert.equal(a, b);
    } finally {
      await site.close();
    }
  });
});
