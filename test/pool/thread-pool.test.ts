import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PARK_FOR_MS } from '../../src/pool/protocol.ts';
import { QueueFullError } from '../../src/queue/index.ts';
import { deferred, failOnUnhandledRejections } from '../support/helpers.ts';
import { PoolClosedError, RemoteValueError, ThreadPool, TimeoutError } from './imports.ts';
import { abortListeners, isPending, type Tasks, tasks, until, within } from './support.ts';

failOnUnhandledRejections();

describe('ThreadPool: running tasks', () => {
  it('runs an exported function by module URL and name and resolves with its result', async () => {
    await using pool = new ThreadPool({ maxThreads: 2 });
    assert.equal(await pool.run(tasks, 'addOne', [41]), 42);
    assert.equal(await pool.run(tasks.href, 'add', [2, 3]), 5);
    assert.equal(await pool.run(tasks.pathname, 'echoLater', ['async']), 'async');
  });

  it('gives a typed handle whose exports are async functions taking trailing options', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const w = pool.module<Tasks>(tasks);
    assert.equal(await w.add(1, 2), 3);
    const controller = new AbortController();
    assert.equal(await w.add(1, 2, { signal: controller.signal, timeoutMs: 10_000 }), 3);
    assert.deepEqual(await w.echoLater({ nested: [1, 2] }), { nested: [1, 2] });
    assert.equal(abortListeners(controller.signal), 0);
  });

  it('rejects with the worker error, keeping its class, message, stack, code and properties', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const error = await pool.run(tasks, 'fail', ['boom']).then(
      () => assert.fail('resolved'),
      (e: unknown) => e as Error & { code: string; status: number },
    );
    assert.equal(error.name, 'HttpishError');
    assert.equal(error.message, 'boom');
    assert.equal(error.code, 'E_FIXTURE');
    assert.equal(error.status, 503);
    assert.match(error.stack ?? '', /fixtures[/\\]tasks\.ts/);
    await assert.rejects(pool.run(tasks, 'failWithType'), TypeError);
    await assert.rejects(pool.run(tasks, 'rejectLater', ['later']), /later/);
    const thrown = await pool.run(tasks, 'throwString').catch((e: unknown) => e);
    assert.ok(thrown instanceof RemoteValueError);
    assert.equal(thrown.value, 'a string, not an Error');
    // A failing task does not cost the worker.
    assert.equal(pool.stats().crashed, 0);
  });

  it('moves transferred buffers instead of copying them', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const buffer = new ArrayBuffer(1024);
    assert.equal(await pool.run(tasks, 'byteLength', [buffer], { transfer: [buffer] }), 1024);
    assert.equal(buffer.byteLength, 0);
  });

  it('rejects a result that cannot be cloned, and an argument that cannot be', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    await assert.rejects(pool.run(tasks, 'returnFunction'), /could not be sent back/);
    await assert.rejects(pool.run(tasks, 'addOne', [() => 1]), /could not be cloned/);
    assert.equal(await pool.run(tasks, 'addOne', [1]), 2);
  });

  it('rejects a missing export with the names it has, and a relative module path', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    await assert.rejects(pool.run(tasks, 'nope'), /no exported function named "nope".*addOne/);
    await assert.rejects(pool.run('./w.js', 'x'), /moduleUrl must be a URL or an absolute path/);
  });

  it('names the option in every validation error', () => {
    const cases: [object, RegExp][] = [
      [{ maxThreads: 0 }, /maxThreads/],
      [{ minThreads: 3, maxThreads: 2 }, /minThreads \(3\) must not exceed maxThreads \(2\)/],
      [{ idleTimeoutMs: -1 }, /idleTimeoutMs/],
      [{ maxQueue: 1.5 }, /maxQueue/],
      [{ onFull: 'drop' }, /onFull/],
      [{ taskTimeoutMs: 'soon' }, /taskTimeoutMs/],
      [{ queueTimeoutMs: -5 }, /queueTimeoutMs/],
      [{ maxMemoryMb: 0 }, /maxMemoryMb/],
      [{ mainHandlers: { x: 1 } }, /mainHandlers\.x/],
      [{ pipelineDepth: 0 }, /pipelineDepth/],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => new ThreadPool(options as never), message);
    }
  });

  it('rejects invalid run options without throwing synchronously', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const promise = pool.run(tasks, 'addOne', [1], { timeoutMs: -1 });
    await assert.rejects(promise, /timeoutMs/);
    await assert.rejects(pool.run(tasks, 'addOne', [1], { signal: {} as never }), /signal/);
  });
});

describe('ThreadPool: backpressure', () => {
  it('makes run() wait for room when the queue is full and onFull is wait', async () => {
    const gate = deferred();
    await using pool = new ThreadPool({
      maxThreads: 1,
      maxQueue: 1,
      mainHandlers: { gate: () => gate.promise },
    });
    const running = pool.run(tasks, 'gated', ['a']);
    await until(() => pool.stats().busy === 1, 'first task running');
    const queued = pool.run(tasks, 'gated', ['b']);
    const waiting = pool.run(tasks, 'gated', ['c']);
    assert.equal(pool.stats().queued, 2);
    assert.equal(await isPending(waiting), true);
    gate.resolve();
    assert.deepEqual(await Promise.all([running, queued, waiting]), ['a', 'b', 'c']);
  });

  it('rejects with QueueFullError at once when the queue is full and onFull is reject', async () => {
    const gate = deferred();
    await using pool = new ThreadPool({
      maxThreads: 1,
      maxQueue: 1,
      onFull: 'reject',
      mainHandlers: { gate: () => gate.promise },
    });
    const running = pool.run(tasks, 'gated', [1]);
    const queued = pool.run(tasks, 'gated', [2]);
    const error = await pool.run(tasks, 'gated', [3]).catch((e: unknown) => e);
    assert.ok(error instanceof QueueFullError);
    assert.match(error.message, /1\/1 queued/);
    gate.resolve();
    assert.deepEqual(await Promise.all([running, queued]), [1, 2]);
  });
});

describe('ThreadPool: cancellation and deadlines', () => {
  it('rejects at once, starting nothing, when the signal is already aborted', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const reason = new Error('already');
    await assert.rejects(
      pool.run(tasks, 'addOne', [1], { signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    assert.equal(pool.stats().workers, 0);
  });

  it('removes a queued task when its signal aborts: it never runs', async () => {
    const gate = deferred();
    const ran: unknown[] = [];
    await using pool = new ThreadPool({
      maxThreads: 1,
      mainHandlers: {
        gate: (value: unknown) => {
          ran.push(value);
          return gate.promise;
        },
      },
    });
    const first = pool.run(tasks, 'gated', ['first']);
    await until(() => ran.length === 1, 'first task running');
    const controller = new AbortController();
    const second = pool.run(tasks, 'gated', ['second'], { signal: controller.signal });
    const reason = new Error('changed my mind');
    controller.abort(reason);
    await assert.rejects(second, (e) => e === reason);
    assert.equal(abortListeners(controller.signal), 0);
    gate.resolve();
    assert.equal(await first, 'first');
    assert.deepEqual(ran, ['first']);
    assert.equal(pool.stats().cancelled, 1);
  });

  it('aborts the worker-side taskSignal of a running task and rejects with the reason itself', async () => {
    const saw = deferred<string>();
    const started = deferred();
    await using pool = new ThreadPool({
      maxThreads: 1,
      mainHandlers: {
        started: () => started.resolve(),
        sawAbort: (message: string) => saw.resolve(message),
      },
    });
    const controller = new AbortController();
    const running = pool.run(tasks, 'observeAbort', [], { signal: controller.signal });
    await started.promise;
    const reason = new Error('stop now');
    controller.abort(reason);
    await assert.rejects(running, (e) => e === reason);
    assert.equal(await saw.promise, 'stop now');
    // It stopped cooperatively: the worker was kept.
    assert.equal(pool.stats().crashed, 0);
    assert.equal(await pool.run(tasks, 'addOne', [1]), 2);
  });

  it('terminates and replaces a worker stuck in a CPU loop after the grace period', async () => {
    const started = deferred<number>();
    await using pool = new ThreadPool({
      maxThreads: 1,
      cancelGraceMs: 50,
      mainHandlers: { started: (id: number) => started.resolve(id) },
    });
    const controller = new AbortController();
    const stuck = pool.run(tasks, 'announceThenSpin', [], { signal: controller.signal });
    const stuckThread = await started.promise;
    const reason = new Error('enough');
    controller.abort(reason);
    await within(
      20_000,
      'stuck task',
      assert.rejects(stuck, (e) => e === reason),
    );
    const after = await pool.run<{ threadId: number }>(tasks, 'whoAmI');
    assert.notEqual(after.threadId, stuckThread);
    const stats = pool.stats();
    assert.equal(stats.workers, 1);
    assert.equal(stats.crashed, 0);
    assert.equal(stats.cancelled, 1);
  });

  it('times a running task out with timeoutMs, as a TimeoutError', async () => {
    await using pool = new ThreadPool({ maxThreads: 1, cancelGraceMs: 20 });
    const error = await pool.run(tasks, 'spinForever', [], { timeoutMs: 30 }).catch((e) => e);
    assert.ok(error instanceof TimeoutError);
    assert.match(error.message, /ran longer than timeoutMs \(30 ms\)/);
    assert.equal(await pool.run(tasks, 'addOne', [1]), 2);
  });

  it('applies taskTimeoutMs from the pool options, and a task can observe it on its signal', async () => {
    await using pool = new ThreadPool({ maxThreads: 1, taskTimeoutMs: 30 });
    await assert.rejects(pool.run(tasks, 'waitForAbort'), TimeoutError);
    assert.equal(pool.stats().crashed, 0);
  });

  it('times out waiting for a worker with queueTimeoutMs, separately from running time', async () => {
    const gate = deferred();
    await using pool = new ThreadPool({
      maxThreads: 1,
      taskTimeoutMs: 60_000,
      mainHandlers: { gate: () => gate.promise },
    });
    const running = pool.run(tasks, 'gated', ['long']);
    const error = await pool
      .run(tasks, 'addOne', [1], { queueTimeoutMs: 30 })
      .catch((e: unknown) => e);
    assert.ok(error instanceof TimeoutError);
    assert.match(error.message, /waited longer than queueTimeoutMs \(30 ms\)/);
    assert.equal(await isPending(running), true);
    gate.resolve();
    assert.equal(await running, 'long');
  });

  it('never kills other tasks when one task on the same worker is aborted', async () => {
    await using pool = new ThreadPool({ maxThreads: 1, cancelGraceMs: 20, pipelineDepth: 8 });
    // Short tasks first, so the pool sends tasks ahead to the busy worker.
    await Promise.all(Array.from({ length: 50 }, (_, i) => pool.run(tasks, 'addOne', [i])));
    const controller = new AbortController();
    const stuck = pool.run(tasks, 'spinForever', [], { signal: controller.signal });
    const others = Array.from({ length: 6 }, (_, i) => pool.run(tasks, 'addOne', [i]));
    await until(() => pool.stats().inFlight === 7, 'tasks sent ahead to the busy worker');
    controller.abort(new Error('just the one'));
    await assert.rejects(stuck, /just the one/);
    assert.deepEqual(await Promise.all(others), [1, 2, 3, 4, 5, 6]);
  });
});

describe('ThreadPool: close', () => {
  it('finishes queued work on close(), then refuses new work with PoolClosedError', async () => {
    const gate = deferred();
    const pool = new ThreadPool({ maxThreads: 1, mainHandlers: { gate: () => gate.promise } });
    const a = pool.run(tasks, 'gated', ['a']);
    const b = pool.run(tasks, 'addOne', [1]);
    const closing = pool.close();
    await assert.rejects(pool.run(tasks, 'addOne', [1]), PoolClosedError);
    assert.equal(await isPending(closing), true);
    gate.resolve();
    assert.deepEqual(await Promise.all([a, b]), ['a', 2]);
    await within(20_000, 'close', closing);
    assert.equal(pool.stats().workers, 0);
  });

  it('cancels queued and running work on close({ force: true }), even a CPU loop', async () => {
    const pool = new ThreadPool({ maxThreads: 1, cancelGraceMs: 50 });
    const spinning = pool.run(tasks, 'spinForever');
    const queued = pool.run(tasks, 'addOne', [1]);
    const outcomes = [
      assert.rejects(spinning, PoolClosedError),
      assert.rejects(queued, PoolClosedError),
    ];
    await until(() => pool.stats().busy === 1, 'spinning');
    await within(20_000, 'force close', pool.close({ force: true }));
    await Promise.all(outcomes);
    assert.equal(pool.stats().workers, 0);
  });

  it('closes with await using, and leaves no timers, workers or listeners behind', async () => {
    const timersBefore = process
      .getActiveResourcesInfo()
      .filter((name) => name === 'Timeout').length;
    const controller = new AbortController();
    {
      await using pool = new ThreadPool({
        maxThreads: 2,
        minThreads: 1,
        taskTimeoutMs: 10_000,
        queueTimeoutMs: 10_000,
      });
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          pool.run(tasks, 'addOne', [i], { signal: controller.signal }),
        ),
      );
      assert.equal(results[199], 200);
      assert.equal(abortListeners(controller.signal), 0);
    }
    const after = process.getActiveResourcesInfo();
    assert.ok(after.filter((name) => name === 'Timeout').length <= timersBefore, String(after));
    assert.equal(after.filter((name) => /Worker|MessagePort/.test(name)).length, 0, String(after));
  });
});

describe('ThreadPool: workers calling the main thread', () => {
  it('answers callMain and callMainSync from mainHandlers, async handlers included', async () => {
    await using pool = new ThreadPool({
      maxThreads: 1,
      mainHandlers: {
        double: async (n: number) => {
          await new Promise((resolve) => setImmediate(resolve));
          return n * 2;
        },
      },
    });
    assert.equal(await pool.run(tasks, 'askMain', ['double', 21]), 42);
    assert.equal(await pool.run(tasks, 'askMainSync', ['double', 4]), 8);
  });

  it('sends handler errors back with their message and stack, and names a missing handler', async () => {
    await using pool = new ThreadPool({
      maxThreads: 1,
      mainHandlers: {
        refuse: () => {
          throw new RangeError('not today');
        },
      },
    });
    const error = await pool.run(tasks, 'askMain', ['refuse']).catch((e: unknown) => e as Error);
    assert.ok(error instanceof RangeError);
    assert.equal(error.message, 'not today');
    assert.match(error.stack ?? '', /thread-pool\.test\.ts/);
    await assert.rejects(pool.run(tasks, 'askMainSync', ['refuse']), /not today/);
    await assert.rejects(
      pool.run(tasks, 'askMain', ['missing']),
      /no main handler named "missing" \(mainHandlers: refuse\)/,
    );
  });
});

describe('ThreadPool: idle workers', () => {
  it('spends a short idle gap parked in Atomics.wait, not waiting in its event loop', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const w = pool.module<Tasks>(tasks);
    await w.markIdle();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const { ms, loopIdleMs } = await w.sinceIdleMark();
    // Parked for up to PARK_FOR_MS after its last task, and its loop only turns between slices;
    // a worker waiting in its event loop would have been idle for nearly all of `ms`.
    assert.ok(
      loopIdleMs <= Math.max(0, ms - PARK_FOR_MS) + ms / 2,
      `event loop idle ${loopIdleMs.toFixed(1)} of ${ms.toFixed(1)} ms`,
    );
  });

  it('still runs a timer a finished task left behind, while parked', async () => {
    const fired = deferred<number>();
    await using pool = new ThreadPool({ maxThreads: 1, mainHandlers: { fired: fired.resolve } });
    assert.equal(await pool.run(tasks, 'leaveTimer', [20]), 'returned');
    assert.equal(await within(10_000, 'timer left behind', fired.promise), 20);
  });

  it('still answers a callMain a finished task did not await, and runs what follows it', async () => {
    const second = deferred<unknown>();
    await using pool = new ThreadPool({
      maxThreads: 1,
      mainHandlers: { first: () => 'one', second: second.resolve },
    });
    assert.equal(await pool.run(tasks, 'leaveCalls'), 'returned');
    assert.equal(await within(10_000, 'second call', second.promise), 'one');
  });

  it('answers a task sent after the worker stopped parking, through its event loop', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    assert.equal(await pool.run(tasks, 'addOne', [1]), 2);
    await new Promise((resolve) => setTimeout(resolve, PARK_FOR_MS * 2));
    assert.equal(await within(10_000, 'task after parking', pool.run(tasks, 'addOne', [2])), 3);
    assert.equal(await pool.run(tasks, 'addOne', [3]), 4);
  });

  it('closes without escalating to kill when its workers are parked', async () => {
    // A grace period longer than the bound: close must not depend on the kill that follows it.
    const pool = new ThreadPool({ maxThreads: 2, minThreads: 2, cancelGraceMs: 60_000 });
    await Promise.all([pool.run(tasks, 'addOne', [1]), pool.run(tasks, 'addOne', [2])]);
    await within(5_000, 'close with parked workers', pool.close());
    assert.equal(pool.stats().workers, 0);
  });
});

describe('ThreadPool: stats', () => {
  it('counts busy and idle workers, queued, completed, failed, cancelled and run times', async () => {
    const gate = deferred();
    await using pool = new ThreadPool({
      maxThreads: 2,
      mainHandlers: { gate: () => gate.promise },
    });
    const blocked = [pool.run(tasks, 'gated', [1]), pool.run(tasks, 'gated', [2])];
    const queued = pool.run(tasks, 'addOne', [1]);
    await until(() => pool.stats().busy === 2, 'both workers busy');
    let stats = pool.stats();
    assert.equal(stats.workers, 2);
    assert.equal(stats.idle, 0);
    assert.equal(stats.queued, 1);
    gate.resolve();
    await Promise.all([...blocked, queued]);
    await assert.rejects(pool.run(tasks, 'fail', ['x']));
    await pool.run(tasks, 'burn', [5]);
    stats = pool.stats();
    assert.equal(stats.completed, 4);
    assert.equal(stats.failed, 1);
    assert.equal(stats.queued, 0);
    assert.equal(stats.busy, 0);
    assert.equal(stats.idle, 2);
    assert.ok(stats.meanRunMs > 0);
    assert.ok(stats.p95RunMs >= 4, `p95 ${stats.p95RunMs}`);
  });
});
