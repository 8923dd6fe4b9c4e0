import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BlockDetector, type BlockReport, detectBlocking } from '../../src/observe/index.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
/** The 1-based line of the busy-wait below, found by its marker so edits cannot skew it. */
const BUSY_LINE =
  readFileSync(THIS_FILE, 'utf8')
    .split('\n')
    .findIndex((line) => line.includes('// <- the block') && !line.includes('findIndex')) + 1;

/** Busy-waits `ms` milliseconds: a real block of known length, inside a function with a name. */
function blockTheLoopFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {} // <- the block
}

/** The next report of `detector`, or a rejection after a generous bound. */
function nextReport(register: (cb: (r: BlockReport) => void) => void, ms = 15_000) {
  return new Promise<BlockReport>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no block report within ${ms} ms`)), ms);
    register((report) => {
      clearTimeout(timer);
      resolve(report);
    });
  });
}

describe('detectBlocking', () => {
  it('reports a 300 ms block with the blocking function and its file:line', async () => {
    assert.ok(BUSY_LINE > 0);
    let deliver: (r: BlockReport) => void = () => {};
    const reports: BlockReport[] = [];
    const detector = detectBlocking({
      thresholdMs: 100,
      onBlock: (report) => {
        reports.push(report);
        deliver(report);
      },
    });
    const published: unknown[] = [];
    const onPublished = (message: unknown) => published.push(message);
    diagnostics.subscribe('switchyard:observe:blocked', onPublished);
    try {
      await detector.ready;
      const got = nextReport((cb) => {
        deliver = cb;
      });
      blockTheLoopFor(300);
      const report = await got;

      const frame = report.stack.find((f) => f.functionName === 'blockTheLoopFor');
      assert.ok(frame, `blockTheLoopFor not in the stack:\n${report.stackText}`);
      assert.equal(frame.file, THIS_FILE);
      assert.equal(frame.line, BUSY_LINE);
      assert.match(report.stackText, /at blockTheLoopFor \(.*detect-blocking\.test\.ts:\d+:\d+\)/);
      assert.equal(report.stackError, undefined);
      // The stall lasted 300 ms; the report is a lower bound short by at most one heartbeat.
      assert.ok(
        report.durationMs >= 300 - detector.intervalMs - 1,
        `durationMs ${report.durationMs}`,
      );
      assert.ok(report.durationMs < 60_000);
      assert.ok(report.detectedAfterMs >= 100, `detectedAfterMs ${report.detectedAfterMs}`);
      assert.equal(report.thresholdMs, 100);
      assert.equal(detector.blocks, 1);
      assert.deepEqual(published, [report]);
    } finally {
      diagnostics.unsubscribe('switchyard:observe:blocked', onPublished);
      detector.stop();
    }
    assert.equal(reports.length, 1);
  });

  it('reports each of two blocks once, and the loop runs normally after each', async () => {
    let deliver: (r: BlockReport) => void = () => {};
    using detector = detectBlocking({ thresholdMs: 50, onBlock: (r) => deliver(r) });
    await detector.ready;
    for (const n of [1, 2]) {
      const got = nextReport((cb) => {
        deliver = cb;
      });
      blockTheLoopFor(200);
      const report = await got;
      assert.ok(
        report.stack.some((f) => f.functionName === 'blockTheLoopFor'),
        report.stackText,
      );
      assert.equal(detector.blocks, n);
    }
  });

  it('with captureStack: false, times the block without reading a stack', async () => {
    let deliver: (r: BlockReport) => void = () => {};
    using detector = detectBlocking({
      thresholdMs: 50,
      captureStack: false,
      onBlock: (r) => deliver(r),
    });
    await detector.ready;
    const got = nextReport((cb) => {
      deliver = cb;
    });
    blockTheLoopFor(200);
    const report = await got;
    assert.deepEqual(report.stack, []);
    assert.equal(report.stackText, '');
    assert.equal(report.stackError, undefined);
    assert.ok(
      report.durationMs >= 200 - detector.intervalMs - 1,
      `durationMs ${report.durationMs}`,
    );
  });

  it('stop() ends the watchdog, is idempotent, and works through using', async () => {
    let detector: BlockDetector;
    {
      using d = detectBlocking({ thresholdMs: 100 });
      detector = d;
      await d.ready;
      assert.equal(d.running, true);
    }
    assert.equal(detector.running, false);
    detector.stop();
    assert.equal(detector.error, undefined);
    assert.equal(detector.blocks, 0);
  });

  it('validation errors name the option', () => {
    assert.throws(() => detectBlocking({ thresholdMs: -1 }), /thresholdMs must be >= 0/);
    assert.throws(() => detectBlocking({ thresholdMs: 5 }), /thresholdMs must be >= 10/);
    assert.throws(() => detectBlocking({ thresholdMs: Number.NaN }), /thresholdMs/);
    assert.throws(() => detectBlocking({ onBlock: 'log' as never }), /onBlock must be a function/);
  });

  it('never keeps the process alive (nor does monitorLoop), even without stop()', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/forgotten-watchdog.ts', import.meta.url));
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>(
      (resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', fixture],
          { timeout: 30_000 },
          (error, stdout) => {
            if (error?.killed) reject(new Error('the process did not exit by itself'));
            else resolve({ code: error ? (error.code as number) : 0, stdout });
          },
        );
      },
    );
    assert.equal(code, 0);
    assert.equal(stdout.trim(), 'ready');
  });
});
