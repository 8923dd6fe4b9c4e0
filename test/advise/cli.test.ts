/** The `switchyard advise` command, run as a child process through bin/switchyard.js. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/switchyard.js', import.meta.url));
const cwd = fileURLToPath(new URL('../..', import.meta.url));

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const fixture = 'test/advise/fixtures/workloads.ts';

function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}

describe('switchyard advise (CLI)', () => {
  it('prints the version and the help with exit code 0', async () => {
    const version = await run('--version');
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
    const help = await run('advise', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: switchyard advise <module>#<export>/);
  });

  it('answers bad usage with exit code 2 and one line on stderr, no stack', async () => {
    for (const args of [
      ['advise'],
      ['advise', `${fixture}#pbkdf2`, '--runs', 'many'],
      ['advise', `${fixture}#pbkdf2`, '--args', '{oops'],
      ['advise', `${fixture}#pbkdf2`, '--bogus'],
      ['advise', 'no/such/module.ts#f'],
      ['advise', `${fixture}#nope`],
      ['frobnicate'],
    ]) {
      const result = await run(...args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assertOneLine(result.stderr, /^switchyard/);
      assert.equal(result.stdout, '');
    }
  });

  it('shows the stack with --debug', async () => {
    const result = await run('advise', `${fixture}#nope`, '--debug');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /\n\s+at /);
  });

  it('exits 1 with one line when the function throws', async () => {
    const result = await run('advise', `${fixture}#fails`, '--args', '["no good"]');
    assert.equal(result.code, 1);
    assertOneLine(result.stderr, /threw on call 1: no good/);
  });

  it('prints the report as JSON with the documented schema fields', async () => {
    const result = await run(
      'advise',
      `${fixture}#pbkdf2`,
      '--runs',
      '3',
      '--warmup',
      '1',
      '--json',
    );
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.schema, 'switchyard.advise');
    assert.equal(report.version, 1);
    for (const key of [
      'target',
      'machine',
      'runs',
      'warmup',
      'outcome',
      'cpuSource',
      'calls',
      'transfer',
      'memory',
      'failure',
      'verdict',
      'estimate',
      'samples',
    ]) {
      assert.ok(key in report, key);
    }
    for (const key of ['wallMs', 'cpuMs', 'blockedMs', 'runQueueMs', 'elu']) {
      for (const field of ['median', 'mean', 'p95', 'min', 'max']) {
        assert.equal(typeof report.calls[key][field], 'number', `${key}.${field}`);
      }
    }
    assert.equal(report.verdict.lane, 'thread');
    assert.equal(report.runs, 3);
    assert.equal(report.samples.length, 4);
    assert.equal(typeof report.estimate.speedup, 'number');
  });

  it('prints a readable report and the verdict line', async () => {
    const result = await run('advise', `${fixture}#timerWaits`, '--runs', '3', '--warmup', '1');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^verdict: loop — /m);
    assert.match(result.stdout, /blocked\s+median/);
  });

  it('fails a CI gate with --fail-if-blocked', async () => {
    const result = await run(
      'advise',
      `${fixture}#atomicsWait`,
      '--runs',
      '2',
      '--warmup',
      '0',
      '--fail-if-blocked',
      '10',
      '--json',
    );
    assert.equal(result.code, 1);
    assertOneLine(
      result.stderr,
      /blocks the loop for \d+\.\d ms per call \(median\), over --fail-if-blocked 10/,
    );
    assert.equal(JSON.parse(result.stdout).verdict.kind, 'blocking');
  });
});
