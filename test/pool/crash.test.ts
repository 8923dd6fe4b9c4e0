import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { failOnUnhandledRejections } from '../support/helpers.ts';
import { ThreadPool, WorkerCrashedError } from './imports.ts';
import { tasks, until, within } from './support.ts';

failOnUnhandledRejections();

async function crashOf(promise: Promise<unknown>): Promise<WorkerCrashedError> {
  const error = await promise.then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WorkerCrashedError, String(error));
  assert.equal(error.code, 'ERR_SWITCHYARD_WORKER_CRASHED');
  return error;
}

describe('ThreadPool: crashes', () => {
  it('rejects the task of a worker that calls process.exit, replaces it and keeps its size', async () => {
    await using pool = new ThreadPool({ maxThreads: 2, minThreads: 2 });
    const crashes: unknown[] = [];
    const listen = (message: unknown) => crashes.push(message);
    diagnostics.subscribe('switchyard:pool:crash', listen);
    try {
      const error = await crashOf(pool.run(tasks, 'exitWith', [3]));
      assert.equal(error.exitCode, 3);
      assert.equal(error.limit, null);
      assert.match(error.message, /exited with code 3/);
      await until(() => pool.stats().workers === 2, 'replacement started');
      assert.equal(await pool.run(tasks, 'addOne', [1]), 2);
      assert.equal(pool.stats().crashed, 1);
      assert.equal(crashes.length, 1);
    } finally {
      diagnostics.unsubscribe('switchyard:pool:crash', listen);
    }
  });

  it('rejects the task of a worker that throws outside a task, with that error as the cause', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const error = await crashOf(pool.run(tasks, 'throwOutsideTask', ['stray timer']));
    assert.match(error.message, /threw outside a task \(Error: stray timer\)/);
    assert.equal((error.cause as Error).message, 'stray timer');
    assert.equal(await pool.run(tasks, 'addOne', [1]), 2);
  });

  it('rejects the task of a worker that exceeds its heap limit, naming the limit', async () => {
    await using pool = new ThreadPool({
      maxThreads: 1,
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    const error = await within(30_000, 'heap crash', crashOf(pool.run(tasks, 'eatMemory')));
    assert.equal(error.limit, 'heap');
    assert.match(error.message, /hit its heap limit/);
    assert.equal(await pool.run(tasks, 'addOne', [1]), 2);
  });

  it('rejects only the crashed worker’s running task: tasks on other workers finish', async () => {
    await using pool = new ThreadPool({ maxThreads: 2 });
    const slow = pool.run(tasks, 'sleepMs', [300]);
    await until(() => pool.stats().busy === 1, 'slow task dispatched');
    await crashOf(pool.run(tasks, 'exitWith', [1]));
    assert.equal(await slow, 300);
  });

  it('settles every task when workers are killed 100 times under load, and still answers', async () => {
    await using pool = new ThreadPool({ maxThreads: 4, pipelineDepth: 4 });
    const KILLS = 100;
    const runs: Promise<unknown>[] = [];
    for (let i = 0; i < KILLS * 4; i++) {
      runs.push(i % 4 === 3 ? pool.run(tasks, 'exitWith', [9]) : pool.run(tasks, 'echoLater', [i]));
    }
    const outcomes = await within(55_000, '100 kills', Promise.allSettled(runs));
    let crashed = 0;
    outcomes.forEach((outcome, i) => {
      if (i % 4 === 3) {
        assert.equal(outcome.status, 'rejected');
        assert.ok((outcome as PromiseRejectedResult).reason instanceof WorkerCrashedError);
        crashed++;
      } else {
        assert.deepEqual(outcome, { status: 'fulfilled', value: i });
      }
    });
    assert.equal(crashed, KILLS);
    const stats = pool.stats();
    assert.equal(stats.crashed, KILLS);
    assert.equal(stats.inFlight, 0);
    assert.equal(stats.queued, 0);
    assert.ok(stats.workers <= 4);
    assert.equal(await pool.run(tasks, 'addOne', [1]), 2);
  });

  it('recycles a worker between tasks once its heap passes maxMemoryMb', async () => {
    await using pool = new ThreadPool({ maxThreads: 1, maxMemoryMb: 24 });
    const stops: unknown[] = [];
    const listen = (message: unknown) => stops.push(message);
    diagnostics.subscribe('switchyard:pool:stop', listen);
    try {
      const first = await pool.run<number>(tasks, 'retain', [40]);
      const second = await pool.run<number>(tasks, 'retain', [1]);
      assert.notEqual(second, first, 'the bloated worker was replaced');
      const stats = pool.stats();
      assert.equal(stats.failed, 0);
      assert.equal(stats.crashed, 0);
      assert.ok(
        stops.some((m) => (m as { reason: string }).reason === 'recycle'),
        JSON.stringify(stops),
      );
    } finally {
      diagnostics.unsubscribe('switchyard:pool:stop', listen);
    }
  });
});
