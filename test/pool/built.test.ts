import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// The published build has no loader: pools must find their worker entry in dist/ and run
// plain JavaScript worker modules, in threads and in processes, without tsx anywhere.
const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(os.tmpdir(), 'switchyard-built-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('pools from the built JavaScript', () => {
  it('run a plain .mjs worker module in a ThreadPool and a ProcessPool without tsx', () => {
    const dist = join(dir, 'dist');
    execFileSync(
      process.execPath,
      [
        join(root, 'node_modules/typescript/bin/tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        dist,
      ],
      { cwd: root },
    );
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'worker.mjs'), 'export const double = (x) => x * 2;\n');
    writeFileSync(
      join(dir, 'main.mjs'),
      `import { ThreadPool, ProcessPool } from './dist/index.js';
const url = new URL('./worker.mjs', import.meta.url);
const results = [];
for (const Pool of [ThreadPool, ProcessPool]) {
  const pool = new Pool({ maxThreads: 1 });
  results.push(await pool.module(url).double(21));
  await pool.close();
}
console.log(JSON.stringify(results));
`,
    );
    // A plain node: no --import tsx in argv or NODE_OPTIONS.
    const env = { ...process.env, NODE_OPTIONS: '' };
    const out = execFileSync(process.execPath, [join(dir, 'main.mjs')], {
      cwd: dir,
      env,
      encoding: 'utf8',
    });
    assert.deepEqual(JSON.parse(out), [42, 42]);
  });
});
