/**
 * Known workloads, each measured for real in a child process, must be classified as the
 * decision table says. Runs are few (the machine is shared); the assertions are on lanes and
 * kinds, never on exact times.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type Advice,
  AdviseCallError,
  AdviseLoadError,
  type AdviseOptions,
  advise,
} from '../../src/advise/index.ts';
import { makeFifo } from './fixtures/workloads.ts';

const workloads = new URL('./fixtures/workloads.ts', import.meta.url);
// cores: 2 makes the verdicts independent of the machine's core count.
const quick: AdviseOptions = { runs: 3, warmup: 1, cores: 2, timeoutMs: 5_000 };

function measure(name: string, args: unknown[] = [], options: AdviseOptions = {}) {
  return advise(workloads, name, args, { ...quick, ...options });
}

function assertFigures(report: Advice): void {
  assert.equal(report.schema, 'switchyard.advise');
  assert.equal(report.version, 1);
  assert.equal(report.outcome, 'ok');
  assert.ok(report.calls !== null);
  assert.equal(report.samples.length, quick.runs! + quick.warmup!);
  assert.ok(report.estimate !== null);
  assert.ok(report.verdict.reason.length > 20);
}

describe('advise: waiting work belongs on the loop', () => {
  let server: Server;
  let port: number;
  before(async () => {
    // A server that answers after 10 ms, like a real one would.
    server = createServer((_request, response) => {
      setTimeout(() => response.end('x'.repeat(2_000)), 10);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('classifies waits on timers as loop, io-wait', async () => {
    const report = await measure('timerWaits');
    assertFigures(report);
    assert.equal(report.verdict.lane, 'loop', report.verdict.reason);
    assert.equal(report.verdict.kind, 'io-wait');
    assert.ok(report.calls!.elu.median < 0.5);
    assert.ok(report.calls!.wallMs.median > 5 * report.calls!.blockedMs.median);
    assert.ok(report.estimate!.lanes.loop > report.estimate!.lanes.thread);
  });

  it('classifies requests to a local HTTP server as loop, io-wait', async () => {
    const report = await measure('httpGets', [port]);
    assertFigures(report);
    assert.equal(report.verdict.lane, 'loop', report.verdict.reason);
    assert.equal(report.verdict.kind, 'io-wait');
  });

  it('keeps trivial work on the loop: a trip to a thread costs more than the work', async () => {
    const report = await measure('tiny');
    assert.equal(report.verdict.lane, 'loop');
    assert.equal(report.verdict.kind, 'too-small');
  });
});

describe('advise: computing work belongs on a thread', () => {
  for (const [name, args] of [
    ['pbkdf2', []],
    ['parseJson', []],
    ['heavyRegex', []],
  ] as const) {
    it(`classifies ${name} as thread, cpu, with an estimated speedup`, async () => {
      const report = await measure(name, [...args]);
      assertFigures(report);
      assert.equal(report.verdict.lane, 'thread', report.verdict.reason);
      assert.equal(report.verdict.kind, 'cpu');
      assert.ok(report.calls!.blockedMs.median >= 1);
      assert.ok(report.calls!.elu.median > 0.9);
      assert.equal(report.estimate!.threads, 2);
      assert.ok(report.estimate!.speedup > 1.2, String(report.estimate!.speedup));
      assert.ok(report.estimate!.speedup <= 2.05, String(report.estimate!.speedup));
      assert.match(report.verdict.reason, /CPU-bound; a ThreadPool of 2 threads/);
      assert.deepEqual(report.verdict.notes, []);
    });
  }
});

describe('advise: blocking without computing belongs on a thread, with a note', () => {
  const fifo = join(tmpdir(), `switchyard-advise-${process.pid}.fifo`);
  before(() => makeFifo(fifo));
  after(() => rmSync(fifo, { force: true }));

  for (const [name, args] of [
    ['atomicsWait', []],
    ['execSleep', []],
    ['slowPipeRead', [fifo]],
  ] as const) {
    it(`classifies ${name} as thread, blocking, and says it blocks rather than computes`, async () => {
      const report = await measure(name, name === 'slowPipeRead' ? [fifo] : [...args]);
      assertFigures(report);
      assert.equal(report.verdict.lane, 'thread', report.verdict.reason);
      assert.equal(report.verdict.kind, 'blocking');
      assert.match(report.verdict.reason, /blocks rather than computes/);
      assert.ok(report.verdict.notes.some((note) => /blocks rather than computes/.test(note)));
      assert.ok(report.calls!.cpuMs.median < 0.25 * report.calls!.blockedMs.median);
      assert.ok(report.estimate!.threads > 2, 'more threads than cores pay off');
    });
  }
});

describe('advise: the CPU of child processes a call starts', () => {
  it("counts a child that computes 30 ms of CPU per call in childCpuMs, apart from the call's own", async () => {
    const report = await measure('execCompute', [30]);
    assertFigures(report);
    // 30 ms of the child's user CPU plus its start-up, in 10 ms ticks summed over the calls.
    assert.ok(report.calls!.childCpuMs >= 25, String(report.calls!.childCpuMs));
    assert.ok(report.calls!.cpuMs.median < report.calls!.childCpuMs, report.verdict.reason);
  });
});

describe('advise: work that must be isolated belongs in a process', () => {
  it('classifies a leak as process, leak', async () => {
    const report = await measure('leak', [16], { runs: 4 });
    assert.equal(report.outcome, 'ok');
    assert.equal(report.verdict.lane, 'process', report.verdict.reason);
    assert.equal(report.verdict.kind, 'leak');
    assert.ok(report.memory.leak);
    assert.ok(report.memory.growthBytesPerCall! > 8 * 1024 * 1024);
  });

  it('classifies a call that exits the process as process, crash, with the exit code', async () => {
    const report = await measure('crash', [7]);
    assert.equal(report.outcome, 'crashed');
    assert.equal(report.verdict.lane, 'process');
    assert.equal(report.verdict.kind, 'crash');
    assert.equal(report.failure?.exitCode, 7);
    assert.equal(report.failure?.call, 0);
    assert.equal(report.estimate, null);
  });

  it('classifies an uncaught exception outside the call as process, crash, with its stderr', async () => {
    const report = await measure('crashLater');
    assert.equal(report.outcome, 'crashed');
    assert.equal(report.verdict.lane, 'process');
    assert.match(report.failure!.stderr, /boom outside the call/);
  });

  it('classifies a memory blow-up as process, out-of-memory', async () => {
    const report = await measure('blowUp', [], { maxMemoryMb: 64 });
    assert.equal(report.outcome, 'out-of-memory');
    assert.equal(report.verdict.lane, 'process');
    assert.equal(report.verdict.kind, 'out-of-memory');
  });

  it('cuts a spinning call at the timeout and reports a hang within a bounded time', async () => {
    const started = performance.now();
    const report = await measure('spinForever', [], { timeoutMs: 1_500 });
    assert.ok(performance.now() - started < 15_000);
    assert.equal(report.outcome, 'hung');
    assert.equal(report.verdict.lane, 'process');
    assert.equal(report.verdict.kind, 'hang');
    assert.match(report.verdict.reason, /did not finish within 1500 ms/);
  });

  it('reports a promise that never settles as a hang too', async () => {
    const report = await measure('neverSettles', [], { timeoutMs: 1_000 });
    assert.equal(report.outcome, 'hung');
    assert.equal(report.failure?.kind, 'hang');
  });
});

describe('advise: transfer cost and errors', () => {
  it('warns when cloning the arguments costs more than the work, and stays on the loop', async () => {
    const values = Array.from({ length: 2_000_000 }, (_, i) => i);
    const report = await measure('sumAll', [values]);
    assert.equal(report.verdict.lane, 'loop', report.verdict.reason);
    assert.equal(report.verdict.kind, 'transfer-bound');
    assert.ok(report.transfer!.argsBytes > 1_000_000);
    assert.ok(report.verdict.warnings.some((w) => /transfer cost .* exceeds the work/.test(w)));
  });

  it('warns when the result cannot cross a thread boundary', async () => {
    const report = await measure('returnsFunction');
    assert.equal(report.transfer?.cloneable, false);
    assert.ok(report.verdict.warnings.some((w) => /cannot cross a thread boundary/.test(w)));
  });

  it('rejects with AdviseCallError when the function throws', async () => {
    await assert.rejects(measure('fails', ['bad input']), (error: unknown) => {
      assert.ok(error instanceof AdviseCallError);
      assert.equal(error.code, 'ERR_SWITCHYARD_ADVISE_CALL');
      assert.match(error.message, /bad input/);
      return true;
    });
  });

  it('rejects with AdviseLoadError for a missing export, naming the functions there are', async () => {
    await assert.rejects(measure('nope'), (error: unknown) => {
      assert.ok(error instanceof AdviseLoadError);
      assert.equal(error.code, 'ERR_SWITCHYARD_ADVISE_LOAD');
      assert.match(error.message, /no exported function named "nope".*pbkdf2/);
      return true;
    });
  });

  it('rejects bad options and relative module paths, naming them', async () => {
    await assert.rejects(advise(workloads, 'tiny', [], { runs: 0 }), /runs must be >= 1/);
    await assert.rejects(advise('./x.ts', 'tiny'), /absolute path/);
    await assert.rejects(advise(workloads, 'tiny', [() => 1]), /structured-cloneable/);
  });

  it('rejects with the reason when aborted, and kills the child', async () => {
    const controller = new AbortController();
    const pending = measure('spinForever', [], { signal: controller.signal, timeoutMs: 60_000 });
    setTimeout(() => controller.abort(new Error('stop')), 300);
    await assert.rejects(pending, /stop/);
  });
});
