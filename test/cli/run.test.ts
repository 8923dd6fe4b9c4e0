import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { main } from '../../src/cli/run.ts';
import { captureIo, tempDir } from './support.ts';

const dir = tempDir();
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;

describe('switchyard run', () => {
  it('runs a pipeline module with a journal and prints the per-stage table', async () => {
    const { io, out } = captureIo();
    const journal = join(dir, 'n.db');
    assert.equal(
      await main([fixture('numbers.ts'), '--journal', journal, '--quiet', '--', '40'], io),
      0,
      out.stderr,
    );
    assert.match(out.stdout, /numbers: read 40 · ok 40 · failed 0/);
    assert.match(out.stdout, /\n\s+square\s+40\s+40\s+0/);
    const again = captureIo();
    assert.equal(
      await main(
        [fixture('numbers.ts'), '--journal', journal, '--resume', '--quiet', '--', '40'],
        again.io,
      ),
      0,
    );
    assert.match(again.out.stdout, /skipped 40/);
  });

  it('exits 1 when items failed, naming the first failures', async () => {
    process.env.FAIL = '1';
    try {
      const { io, out } = captureIo();
      assert.equal(await main([fixture('numbers.ts'), '--no-journal', '--quiet'], io), 1);
      assert.match(out.stdout, /13 at square: RangeError: unlucky/);
    } finally {
      delete process.env.FAIL;
    }
  });

  it('rejects a module without a pipeline, and a missing one, with exit 2', async () => {
    const a = captureIo();
    assert.equal(await main([fixture('not-a-pipeline.ts'), '--no-journal'], a.io), 2);
    assert.match(a.out.stderr, /must export default a pipeline/);
    const b = captureIo();
    assert.equal(await main(['nope.ts'], b.io), 2);
    assert.equal(b.out.stderr, 'switchyard run: no such module: nope.ts\n');
  });
});
