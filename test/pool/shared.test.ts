import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deferred, failOnUnhandledRejections } from '../support/helpers.ts';
import {
  BrokenResourceError,
  SharedCounter,
  SharedMutex,
  ThreadPool,
  WorkerCrashedError,
} from './imports.ts';
import { isPending, tasks } from './support.ts';

failOnUnhandledRejections();

describe('SharedCounter and SharedMutex', () => {
  it('keeps two threads doing 10^6 increments each under the mutex exactly at 2·10^6', async () => {
    await using pool = new ThreadPool({ maxThreads: 2 });
    const mutex = new SharedMutex();
    const counter = new SharedCounter();
    const raw = new Int32Array(new SharedArrayBuffer(4));
    const N = 1_000_000;
    await Promise.all([
      pool.run(tasks, 'incrementUnderLock', [mutex, counter, raw, N]),
      pool.run(tasks, 'incrementUnderLock', [mutex, counter, raw, N]),
    ]);
    assert.equal(raw[0], 2 * N);
    assert.equal(counter.value, 2 * N);
    assert.equal(mutex.locked, false);
  });

  it('counts atomically and compares-and-exchanges', () => {
    const counter = new SharedCounter(5);
    assert.equal(counter.add(3), 8);
    assert.equal(counter.decrement(), 7);
    assert.equal(counter.compareExchange(7, 100), 7);
    assert.equal(counter.compareExchange(7, 0), 100);
    assert.equal(SharedCounter.from(counter.buffer).value, 100);
  });

  it('lets the main thread await lock() without blocking its event loop', async () => {
    const locked = deferred();
    await using pool = new ThreadPool({
      maxThreads: 1,
      cancelGraceMs: 20,
      mainHandlers: { locked: () => locked.resolve() },
    });
    const mutex = new SharedMutex();
    const controller = new AbortController();
    const holding = pool.run(tasks, 'lockAndHold', [mutex], { signal: controller.signal });
    await locked.promise;
    assert.equal(mutex.locked, true);
    assert.equal(mutex.tryLock(), false);
    const waiting = mutex.lock();
    // The loop keeps turning while the main thread waits for the lock.
    assert.equal(await isPending(waiting), true);
    const cancelled = new AbortController();
    const reason = new Error('gave up');
    const abandoned = mutex.lock({ signal: cancelled.signal });
    cancelled.abort(reason);
    await assert.rejects(abandoned, (e) => e === reason);
    // The holder's worker is terminated holding the lock: the waiters learn it is broken.
    controller.abort(new Error('stop holding'));
    await assert.rejects(holding, /stop holding/);
    await assert.rejects(waiting, BrokenResourceError);
  });

  it('gives the next acquirer BrokenResourceError naming the dead holder', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const mutex = new SharedMutex();
    const error = await pool.run(tasks, 'lockAndDie', [mutex]).catch((e: unknown) => e);
    assert.ok(error instanceof WorkerCrashedError);
    assert.equal(mutex.broken, true);
    assert.throws(
      () => mutex.lockSync(),
      (e: unknown) => {
        assert.ok(e instanceof BrokenResourceError);
        assert.equal(e.code, 'ERR_SWITCHYARD_BROKEN_RESOURCE');
        assert.match(e.message, new RegExp(`holder \\(thread ${error.workerId}\\) died`));
        return true;
      },
    );
    await assert.rejects(mutex.lock(), BrokenResourceError);
  });

  it('refuses to unlock a mutex this thread does not hold', () => {
    const mutex = new SharedMutex();
    assert.throws(() => mutex.unlock(), /does not hold/);
    mutex.lockSync();
    assert.equal(mutex.locked, true);
    mutex.unlock();
    assert.equal(
      mutex.runSync(() => mutex.locked),
      true,
    );
    assert.equal(mutex.locked, false);
  });
});
