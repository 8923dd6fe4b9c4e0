import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deferred, failOnUnhandledRejections } from '../support/helpers.ts';
import { PoolClosedError, ProcessPool, TimeoutError, WorkerCrashedError } from './imports.ts';
import { type Tasks, tasks, until, within } from './support.ts';

failOnUnhandledRejections();

describe('ProcessPool', () => {
  it('runs tasks in child processes through the same API as ThreadPool', async () => {
    await using pool = new ProcessPool({ maxThreads: 2 });
    const w = pool.module<Tasks>(tasks);
    assert.equal(await pool.run(tasks, 'addOne', [1]), 2);
    assert.equal(await w.add(20, 22), 42);
    const { pid } = await w.whoAmI();
    assert.notEqual(pid, process.pid);
    const error = (await w.fail('remote').catch((e: unknown) => e)) as Error & { code: string };
    assert.equal(error.name, 'HttpishError');
    assert.equal(error.code, 'E_FIXTURE');
    assert.match(error.stack ?? '', /fixtures[/\\]tasks\.ts/);
  });

  it('answers callMain, and says callMainSync needs a thread', async () => {
    await using pool = new ProcessPool({
      maxThreads: 1,
      mainHandlers: { triple: (n: number) => n * 3 },
    });
    assert.equal(await pool.run(tasks, 'askMain', ['triple', 5]), 15);
    await assert.rejects(pool.run(tasks, 'askMainSync', ['triple', 5]), /only ThreadPool workers/);
  });

  it('settles every task when children are SIGKILLed under load, and replaces them', async () => {
    let killed = 0;
    await using pool = new ProcessPool({
      maxThreads: 2,
      mainHandlers: {
        // Every fifth task has its process killed while it runs; the others finish.
        running: (pid: number, i: number) => {
          if (i % 5 !== 0) return undefined;
          killed++;
          process.kill(pid, 'SIGKILL');
          return new Promise(() => {});
        },
      },
    });
    const runs = Array.from({ length: 60 }, (_, i) => pool.run(tasks, 'reportPid', [i]));
    const outcomes = await within(50_000, 'kills', Promise.allSettled(runs));
    for (const [i, outcome] of outcomes.entries()) {
      if (i % 5 !== 0) {
        assert.deepEqual(outcome, { status: 'fulfilled', value: i });
        continue;
      }
      assert.equal(outcome.status, 'rejected');
      const reason = (outcome as PromiseRejectedResult).reason as WorkerCrashedError;
      assert.ok(reason instanceof WorkerCrashedError, `task ${i}: ${String(reason)}`);
      assert.equal(reason.signal, 'SIGKILL');
      assert.match(reason.message, /was killed by SIGKILL/);
    }
    assert.equal(killed, 12);
    assert.equal(pool.stats().crashed, 12);
    assert.equal(await pool.run(tasks, 'addOne', [1]), 2);
    assert.equal(pool.stats().inFlight, 0);
  });

  it('kills a child stuck in a CPU loop after its timeout and grace period', async () => {
    await using pool = new ProcessPool({ maxThreads: 1, cancelGraceMs: 50 });
    const error = await pool.run(tasks, 'spinForever', [], { timeoutMs: 100 }).catch((e) => e);
    assert.ok(error instanceof TimeoutError);
    assert.equal(await pool.run(tasks, 'addOne', [1]), 2);
  });

  it('closes within a bounded time when a child ignores SIGTERM', async () => {
    const pool = new ProcessPool({ maxThreads: 1, cancelGraceMs: 100 });
    const pid = await pool.run<number>(tasks, 'ignoreSigterm');
    await within(10_000, 'close', pool.close());
    await assert.rejects(pool.run(tasks, 'addOne', [1]), PoolClosedError);
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  });

  it('cancels a running task with close({ force: true })', async () => {
    const started = deferred();
    const pool = new ProcessPool({
      maxThreads: 1,
      mainHandlers: { started: () => started.resolve() },
    });
    const running = pool.run(tasks, 'announceThenSpin');
    const outcome = assert.rejects(running, PoolClosedError);
    await started.promise;
    await within(10_000, 'force close', pool.close({ force: true }));
    await outcome;
    await until(() => pool.stats().workers === 0, 'no workers');
  });
});
