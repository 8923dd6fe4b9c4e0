/**
 * The peers' known bugs, each pinned here so switchyard never grows them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Queue } from '../../src/queue/index.ts';
import { Semaphore } from '../../src/sync/index.ts';
import { failOnUnhandledRejections, stackDepth } from '../support/helpers.ts';

failOnUnhandledRejections();

describe('regressions from peer libraries', () => {
  it('resolves join() on an idle queue at once (fastq #63)', async () => {
    const fresh = new Queue<number>();
    let joined = false;
    void fresh.join().then(() => {
      joined = true;
    });
    await null;
    assert.equal(joined, true, 'join on a queue that never held an item');

    const used = new Queue<number>();
    await used.put(1);
    await used.get();
    used.taskDone();
    joined = false;
    void used.join().then(() => {
      joined = true;
    });
    await null;
    assert.equal(joined, true, 'join on a queue whose items are all done');
  });

  it('does not grow the stack over 10,000 sequential join() calls (fastq #86, p-queue #20)', async () => {
    const queue = new Queue<number>({ maxsize: 1 });
    let before = 0;
    let after = 0;
    for (let i = 0; i < 10_000; i++) {
      await queue.put(i);
      const joined = queue.join();
      queueMicrotask(() => {
        queue.getNowait();
        queue.taskDone();
      });
      await joined;
      await queue.join();
      if (i === 0) before = stackDepth();
      after = stackDepth();
    }
    assert.ok(after <= before, `stack grew from ${before} to ${after} frames`);
  });

  it('does not grow the stack over 10,000 sequential waits for a permit', async () => {
    const sem = new Semaphore(1);
    let before = 0;
    let after = 0;
    for (let i = 0; i < 10_000; i++) {
      const held = await sem.acquire();
      const next = sem.acquire();
      queueMicrotask(() => held.release());
      (await next).release();
      if (i === 0) before = stackDepth();
      after = stackDepth();
    }
    assert.ok(after <= before, `stack grew from ${before} to ${after} frames`);
  });

  it('settles a waiter whose signal is already aborted at once, even when it would wait (p-queue #241)', async () => {
    const queue = new Queue<number>();
    const sem = new Semaphore(0);
    const signal = AbortSignal.abort(new Error('already'));
    const outcomes = await Promise.allSettled([
      queue.get({ signal }),
      sem.acquire({ signal }),
      sem.run(() => 1, { signal }),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected', 'rejected'],
    );
    assert.equal(queue.stats().waitingGetters, 0);
    assert.equal(sem.waiting, 0);
  });
});
