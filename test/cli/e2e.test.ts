// End-to-end: the real `switchyard` entry point (bin/switchyard.js, dispatching through
// main.ts) in child processes, against real HTTP servers on 127.0.0.1 and real SQLite files.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { serve, tempDir } from './support.ts';

const dir = tempDir();
const bin = new URL('../../bin/switchyard.js', import.meta.url).pathname;
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;
const page = (n: number) => `<html><head><title>Page ${n}</title></head><body>x</body></html>`;
const seen = new Map<string, number>();

const { base } = await serve((req, res) => {
  const url = req.url ?? '/';
  const n = (seen.get(url) ?? 0) + 1;
  seen.set(url, n);
  if (url.startsWith('/slow/')) {
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(page(n)), 25);
  } else if (url.startsWith('/flaky/')) {
    if (n === 1) res.writeHead(503, { 'retry-after': '0' }).end();
    else res.writeHead(200, { 'content-type': 'text/html' }).end(page(n));
  } else if (url.startsWith('/gone/')) {
    res.writeHead(404).end();
  } else {
    res.writeHead(200, { 'content-type': 'text/html' }).end(page(n));
  }
});

/** `node bin/switchyard.js <args>`: stdout, stderr and the exit code. */
function switchyard(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = {
    child,
    stdout: '',
    stderr: '',
    exited: undefined as unknown as Promise<number | null>,
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (run.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (run.stderr += d));
  run.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  return run;
}

/** Resolves once `test()` holds for the running child; fails if it exits first. */
async function until(run: ReturnType<typeof switchyard>, test: () => boolean): Promise<void> {
  while (!test()) {
    if (run.child.exitCode !== null)
      assert.fail(`exited ${run.child.exitCode} first:\n${run.stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const noStack = /\n\s+at /;

describe('switchyard (the real command, in a child process)', () => {
  mkdirSync(join(dir, 'a-directory'));
  writeFileSync(join(dir, 'one.txt'), `${base}/p/1\n`);
  for (const [name, args, pattern] of [
    ['a missing file', ['fetch', 'missing.txt'], /^switchyard fetch: no such file: missing.txt$/],
    [
      'an unknown flag',
      ['fetch', 'one.txt', '--frobnicate'],
      /^switchyard fetch: Unknown option '--frobnicate'/,
    ],
    [
      'a negative concurrency',
      ['fetch', 'one.txt', '--concurrency', '-3'],
      /^switchyard fetch: --concurrency must be an integer between 1 and 10000, got "-3"$/,
    ],
    [
      'an output path in a missing directory',
      ['fetch', 'one.txt', '--out', 'no/such/dir/r.db'],
      /^switchyard fetch: cannot write --out no\/such\/dir\/r.db: no such directory /,
    ],
    [
      'an output path that is a directory (even with --overwrite)',
      ['fetch', 'one.txt', '--out', 'a-directory', '--overwrite'],
      /^switchyard fetch: cannot write --out a-directory: it is a directory$/,
    ],
    [
      'an output path SQLite cannot create',
      ['fetch', 'one.txt', '--out', '/proc/r.db'],
      /^switchyard fetch: cannot open \/proc\/r.db: unable to open database file$/,
    ],
    [
      'an unknown command',
      ['fecth', 'one.txt'],
      /^switchyard: unknown command "fecth"; run switchyard --help$/,
    ],
    [
      'a run module that does not exist',
      ['run', 'nope.ts'],
      /^switchyard run: no such module: nope.ts$/,
    ],
  ] as const) {
    it(`exits 2 on ${name} with one clear line and no stack trace`, async () => {
      const run = switchyard([...args]);
      assert.equal(await run.exited, 2, run.stderr);
      const lines = run.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0]!, pattern);
      assert.doesNotMatch(run.stderr, noStack);
      assert.equal(run.stdout, '');
    });
  }

  it('prints the stack trace only with --debug', async () => {
    const run = switchyard(['fetch', 'one.txt', '--out', '/proc/r.db', '--debug']);
    assert.equal(await run.exited, 2);
    assert.match(run.stderr, /^switchyard fetch: cannot open \/proc\/r.db/);
    assert.match(run.stderr, noStack, 'a stack with --debug');
  });

  it('reports each garbage line with its number, records it as failed, and exits 1', async () => {
    writeFileSync(
      join(dir, 'garbage.txt'),
      [
        `${base}/p/1`,
        'not a url at all',
        '# a comment',
        'ftp://127.0.0.1/f',
        '',
        `${base}/p/2`,
        'http://[::1',
      ].join('\n'),
    );
    const run = switchyard(['fetch', 'garbage.txt', '--out', 'garbage.db']);
    assert.equal(await run.exited, 1, run.stderr);
    assert.match(run.stderr, /^switchyard fetch: line 2: not a URL: "not a url at all"$/m);
    assert.match(
      run.stderr,
      /^switchyard fetch: line 4: only http and https are fetched, not ftp/m,
    );
    assert.match(run.stderr, /^switchyard fetch: line 7: not a URL: "http:\/\/\[::1"$/m);
    assert.doesNotMatch(run.stderr, noStack);
    const db = new Database(join(dir, 'garbage.db'), { readonly: true });
    const rows = db.prepare('SELECT line, outcome FROM results ORDER BY line').all();
    db.close();
    assert.deepEqual(rows, [
      { line: 1, outcome: 'ok' },
      { line: 2, outcome: 'invalid' },
      { line: 4, outcome: 'invalid' },
      { line: 6, outcome: 'ok' },
      { line: 7, outcome: 'invalid' },
    ]);
  });

  it('serves the metrics during a fetch, writes plain progress lines, and ends with the summary table', async () => {
    const urls = [
      ...Array.from({ length: 60 }, (_, i) => `${base}/slow/${i}`),
      ...Array.from({ length: 4 }, (_, i) => `${base}/flaky/${i}`),
      ...Array.from({ length: 3 }, (_, i) => `${base}/gone/${i}`),
    ];
    writeFileSync(join(dir, 'metrics.txt'), urls.join('\n'));
    const run = switchyard([
      'fetch',
      'metrics.txt',
      '--out',
      'metrics.db',
      '--metrics-port',
      '0',
      '--concurrency',
      '2',
      '--per-host',
      '2',
      '--rate',
      '0',
      '--progress-interval',
      '100',
    ]);
    await until(
      run,
      () => /metrics at (\S+)/.test(run.stderr) && /\] [1-9]\d*\/67 done/.test(run.stderr),
    );
    const scraped = await (await fetch(/metrics at (\S+)/.exec(run.stderr)![1]!)).text();
    assert.equal(await run.exited, 1, run.stderr);
    for (const series of [
      /switchyard_tasks_total\{component="fetch",outcome="ok"\} [1-9]/,
      /switchyard_tasks_total\{component="urls",outcome="ok"\} [1-9]/,
      /switchyard_inflight\{component="fetch"\} \d/,
      /switchyard_task_duration_seconds_bucket\{le="[^"]+",component="fetch"\} \d/,
      /switchyard_tasks_total\{component="parse",outcome="ok"\} [1-9]/,
      /switchyard_tasks_total\{component="parse_pool",outcome="ok"\} [1-9]/,
      /switchyard_tasks_total\{component="store",outcome="ok"\} \d/,
    ]) {
      assert.match(scraped, series);
    }
    // Plain progress (stderr is a pipe): one line per interval, with the figures.
    const lines = run.stderr.split('\n').filter((l) => /^\[\s*[\d.]+ m?s\]/.test(l));
    assert.ok(lines.length >= 2, run.stderr);
    for (const line of lines) {
      assert.match(
        line,
        /^\[\s*[\d.]+ m?s\] \d+\/67 done \(\d+%\) · ok \d+ · failed \d+ · \d+\/s · in flight \d+ · p95 [\d.]+ m?s/,
      );
      // The ETA once there is a rate to extrapolate from.
      if (!line.includes('] 0/67')) assert.match(line, / · ETA (\d+(\.\d+)? m?s|\d+m\d\ds)$/, line);
    }
    assert.ok(
      lines.some((l) => / · ETA /.test(l)),
      run.stderr,
    );
    assert.ok(!run.stderr.includes('\u001b['), 'no terminal escapes without a TTY');
    // The summary table.
    assert.match(run.stdout, /fetched 67 URLs in /);
    assert.match(run.stdout, /\n {2}ok +64 +95\.5%\n {2}http_error +3 +4\.5%/);
    assert.match(run.stdout, /\n {2}200 +64\n {2}404 +3\n/);
    assert.match(run.stdout, /per URL \(retries included\) +[\d.]+ m?s +[\d.]+ m?s +[\d.]+ m?s/);
    assert.match(run.stdout, /parse \(thread pool\) +[\d.]+ m?s/);
    assert.match(run.stdout, /\n {2}retries +4\n/, 'one retry per flaky URL, none for a 404');
    assert.match(run.stdout, /\n {2}breaker openings +0\n/);
    assert.match(run.stdout, /\n {2}throughput +[\d.]+ URLs\/s\n/);
  });

  it('draws the live per-stage display when stdout is a terminal (a pty from script(1))', async () => {
    writeFileSync(
      join(dir, 'tty.txt'),
      Array.from({ length: 40 }, (_, i) => `${base}/slow/t${i}`).join('\n'),
    );
    const command = [
      process.execPath,
      bin,
      'fetch',
      'tty.txt',
      '--out',
      'tty.db',
      '--concurrency',
      '2',
      '--per-host',
      '2',
      '--rate',
      '0',
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    const run = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    run.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => run.on('close', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /stage +done +failed +in-flight +queued +rate\/s +p95/);
    const redraws = out.split('\u001b[2Kstage').length - 1;
    assert.ok(redraws >= 2, `redrawn in place (${redraws} frames)`);
    assert.ok(out.includes('\u001b[6F'), 'cursor moved back up over the six rows');
    for (const stage of ['fetch', 'parse', 'store', 'urls']) {
      assert.match(
        out,
        new RegExp(`\\u001b\\[2K${stage} +\\d+ +\\d+ +\\d+ +\\d+ +\\d+ +\\S+`),
        stage,
      );
    }
    assert.match(out, /\/40 \(\d+%\) · ok \d+ · failed \d+ · \d+\/s · ETA /);
    assert.match(out, /fetched 40 URLs in /);
  });

  it('switchyard run: progress, metrics, journal, and Ctrl-C then --resume runs each item exactly once', async () => {
    const out = join(dir, 'numbers.out');
    writeFileSync(out, '');
    const args = [
      'run',
      fixture('slow-numbers.ts'),
      '--journal',
      'slow.db',
      '--metrics-port',
      '0',
      '--progress-interval',
      '100',
    ];
    const first = switchyard([...args, '--', '200'], { NUMBERS_OUT: out });
    await until(
      first,
      () => /metrics at (\S+)/.test(first.stderr) && /\] [1-9]\d* done/.test(first.stderr),
    );
    const scraped = await (await fetch(/metrics at (\S+)/.exec(first.stderr)![1]!)).text();
    assert.match(scraped, /switchyard_tasks_total\{component="square",outcome="ok"\} [1-9]/);
    assert.match(scraped, /switchyard_inflight\{component="square"\} \d/);
    first.child.kill('SIGINT');
    assert.equal(await first.exited, 130, first.stderr);
    assert.match(first.stderr, /interrupted; \d+ items left pending — run again with --resume/);
    const firstOk = Number(/slow: read \d+ · ok (\d+)/.exec(first.stdout)![1]);
    assert.ok(firstOk > 0 && firstOk < 200, first.stdout);

    const second = switchyard([...args, '--resume', '--', '200'], { NUMBERS_OUT: out });
    assert.equal(await second.exited, 0, second.stderr);
    const [, ok, skipped] = /slow: read \d+ · ok (\d+) · failed 0 · pending 0 · skipped (\d+)/.exec(
      second.stdout,
    )!;
    assert.equal(Number(skipped), firstOk);
    assert.equal(Number(ok) + firstOk, 200);
    const written = readFileSync(out, 'utf8').trim().split('\n').map(Number);
    assert.equal(written.length, 200, 'each item written once');
    assert.deepEqual(
      [...new Set(written)].sort((a, b) => a - b),
      Array.from({ length: 200 }, (_, i) => i),
    );
  });
});
