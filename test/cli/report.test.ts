import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { main as demo } from '../../src/cli/demo.ts';
import { main } from '../../src/cli/report.ts';
import { captureIo, tempDir } from './support.ts';

const dir = tempDir();

describe('switchyard report', () => {
  it('writes a self-contained HTML page with the three charts', { timeout: 60_000 }, async () => {
    const db = join(dir, 'demo.db');
    assert.equal(await demo(['--urls', '300', '--quiet', '--out', db], captureIo().io), 0);
    const { io, out } = captureIo();
    const html = join(dir, 'report.html');
    assert.equal(await main([db, '--html', html], io), 0, out.stderr);
    const page = readFileSync(html, 'utf8');
    for (const id of ['throughput', 'latency', 'hosts'])
      assert.match(page, new RegExp(`<figure id="${id}"><svg`));
    assert.doesNotMatch(
      page,
      /<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/,
      'no script, no network',
    );
    assert.match(page, /302 URLs/);
  });

  it('rejects a missing --html and a file that is not a results database with exit 2', async () => {
    const a = captureIo();
    assert.equal(await main(['x.db'], a.io), 2);
    assert.match(a.out.stderr, /--html <path> is required/);
    const b = captureIo();
    assert.equal(
      await main([new URL(import.meta.url).pathname, '--html', join(dir, 'x.html')], b.io),
      2,
    );
    assert.match(b.out.stderr, /is not a fetch results database/);
  });
});
