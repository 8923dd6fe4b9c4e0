import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedSemaphore, Lock, Permit, Semaphore } from '../../src/sync/index.ts';
import {
  abortListeners,
  failOnUnhandledRejections,
  nextTurn,
  settled,
} from '../support/helpers.ts';

failOnUnhandledRejections();

describe('Semaphore', () => {
  it('hands out free permits at once and counts them in available', async () => {
    const sem = new Semaphore(2);
    const first = await sem.acquire();
    assert.ok(first instanceof Permit);
    assert.equal(sem.available, 1);
    await sem.acquire();
    assert.equal(sem.available, 0);
    assert.equal(sem.waiting, 0);
  });

  it('serves waiters in arrival order', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) =>
      sem.acquire().then((permit) => {
        order.push(n);
        permit.release();
      }),
    );
    assert.equal(sem.waiting, 3);
    held.release();
    await Promise.all(waits);
    assert.deepEqual(order, [1, 2, 3]);
  });

  it('does not let tryAcquire barge past waiters', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const waiter = sem.acquire();
    assert.equal(sem.tryAcquire(), undefined);
    held.release();
    assert.equal(sem.tryAcquire(), undefined, 'the released permit belongs to the waiter');
    (await waiter).release();
    const permit = sem.tryAcquire();
    assert.ok(permit instanceof Permit);
    assert.equal(sem.available, 0);
  });

  it('does not count a permit that release() hands straight to a waiter in available', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const waiter = sem.acquire();
    held.release();
    assert.equal(sem.available, 0);
    assert.equal(sem.waiting, 0);
    (await waiter).release();
    assert.equal(sem.available, 1);
  });

  it('hands out permits that are plain objects, so V8 can fulfil acquire() without a then lookup', async () => {
    const sem = new Semaphore(2);
    const permit = await sem.acquire();
    // Regression: a class-instance Permit sent every uncontended acquire through V8's generic
    // `then` lookup (a third of its cost); only Object.prototype objects skip it.
    assert.equal(Object.getPrototypeOf(permit), Object.prototype);
    assert.equal('then' in permit, false);
    assert.ok(sem.tryAcquire() instanceof Permit);
    const lookAlike = { released: false, release() {}, [Symbol.dispose]() {} };
    assert.equal(lookAlike instanceof Permit, false, 'instanceof checks the brand, not the shape');
    assert.equal((null as unknown) instanceof Permit, false);
  });

  it('releases a permit once however often it is released, and with using', async () => {
    const sem = new Semaphore(1);
    {
      using permit = await sem.acquire();
      assert.equal(sem.available, 0);
      permit.release();
      assert.equal(sem.available, 1);
      permit.release();
      assert.equal(permit.released, true);
    }
    assert.equal(sem.available, 1, 'dispose after a manual release is a no-op');
    {
      using _permit = await sem.acquire();
      assert.equal(sem.available, 0);
    }
    assert.equal(sem.available, 1);
  });

  it('lets a plain Semaphore grow past its initial permits on extra releases, like Python', () => {
    const sem = new Semaphore(1);
    sem.release();
    assert.equal(sem.available, 2);
  });

  it('starts with no free permits when created with 0', async () => {
    const sem = new Semaphore(0);
    const waiter = sem.acquire();
    assert.equal((await settled(waiter)).state, 'pending');
    sem.release();
    assert.ok((await waiter) instanceof Permit);
  });

  it('rejects bad permits with an error naming the option', () => {
    assert.throws(() => new Semaphore(-1), /Semaphore: permits must be an integer >= 0, got -1/);
    assert.throws(() => new Semaphore(1.5), /permits must be an integer/);
    assert.throws(() => new BoundedSemaphore(Number.NaN), /BoundedSemaphore: permits/);
  });

  it('rejects a signal option that is not an AbortSignal', async () => {
    const sem = new Semaphore(1);
    const bogus = { signal: {} as AbortSignal };
    await assert.rejects(sem.acquire(bogus), /Semaphore.acquire: signal must be an AbortSignal/);
    await assert.rejects(
      sem.run(async () => 1, bogus),
      /Semaphore.run: signal must be/,
    );
    assert.equal(sem.available, 1);
  });

  describe('cancellation', () => {
    it('rejects an aborted wait with the signal reason itself and forgets the waiter', async () => {
      const sem = new Semaphore(1);
      const held = await sem.acquire();
      const controller = new AbortController();
      const cancelled = sem.acquire({ signal: controller.signal });
      const next = sem.acquire();
      const reason = new Error('stop waiting');
      controller.abort(reason);
      await assert.rejects(cancelled, (error) => error === reason);
      assert.equal(sem.waiting, 1);
      held.release();
      assert.ok((await next) instanceof Permit, 'the permit skips the cancelled waiter');
      assert.equal(sem.available, 0);
      assert.equal(sem.stats().cancelledTotal, 1);
    });

    it('settles at once on an already-aborted signal, even with a permit free, taking nothing', async () => {
      const sem = new Semaphore(1);
      const reason = new Error('already');
      await assert.rejects(sem.acquire({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
      let ran = false;
      await assert.rejects(
        sem.run(
          async () => {
            ran = true;
          },
          { signal: AbortSignal.abort(reason) },
        ),
        (e) => e === reason,
      );
      assert.equal(ran, false);
      assert.equal(sem.available, 1);
      assert.equal(sem.waiting, 0);
    });

    it('never lets a cancelled acquire hold a permit when the grant and the abort land in the same nextTurn', async () => {
      const sem = new Semaphore(1);
      const held = await sem.acquire();
      const controller = new AbortController();
      const cancelled = sem.acquire({ signal: controller.signal });
      const reason = new Error('late abort');
      held.release();
      controller.abort(reason);
      await assert.rejects(cancelled, (error) => error === reason);
      assert.equal(sem.available, 1, 'the grant came back');
      assert.equal(sem.stats().acquiredTotal, 1);
    });

    it('hands a grant withdrawn by a same-nextTurn abort on to the next waiter', async () => {
      const sem = new Semaphore(1);
      const held = await sem.acquire();
      const controller = new AbortController();
      const cancelled = sem.acquire({ signal: controller.signal });
      const next = sem.acquire();
      held.release();
      controller.abort(new Error('late'));
      await assert.rejects(cancelled, /late/);
      assert.ok((await next) instanceof Permit);
      assert.equal(sem.available, 0);
    });

    it('never starts run() work whose wait was cancelled in the same nextTurn as its grant', async () => {
      const sem = new Semaphore(1);
      const held = await sem.acquire();
      const controller = new AbortController();
      let ran = false;
      const cancelled = sem.run(
        async () => {
          ran = true;
        },
        { signal: controller.signal },
      );
      held.release();
      controller.abort(new Error('late'));
      await assert.rejects(cancelled, /late/);
      assert.equal(ran, false);
      assert.equal(sem.available, 1);
    });

    it('keeps a grant whose abort lands after it committed', async () => {
      const sem = new Semaphore(1);
      const held = await sem.acquire();
      const controller = new AbortController();
      const waiter = sem.acquire({ signal: controller.signal });
      held.release();
      await nextTurn();
      controller.abort(new Error('too late'));
      const permit = await waiter;
      assert.equal(sem.available, 0);
      permit.release();
      assert.equal(sem.available, 1);
    });

    it('leaves no abort listener behind when a wait is granted or cancelled', async () => {
      const sem = new Semaphore(1);
      const controller = new AbortController();
      const { signal } = controller;
      const held = await sem.acquire({ signal });
      const granted = sem.acquire({ signal });
      const ran = sem.run(async () => 'ok', { signal });
      assert.equal(abortListeners(signal), 1);
      held.release();
      (await granted).release();
      assert.equal(await ran, 'ok');
      assert.equal(abortListeners(signal), 0);

      const blocker = await sem.acquire();
      const other = new AbortController();
      const cancelled = sem.acquire({ signal: other.signal });
      assert.equal(abortListeners(other.signal), 1);
      other.abort();
      await assert.rejects(cancelled);
      assert.equal(abortListeners(other.signal), 0);
      blocker.release();
    });
  });

  describe('run', () => {
    it('returns what fn resolves with and releases the permit before the caller resumes', async () => {
      const sem = new Semaphore(1);
      const value = await sem.run(async () => {
        assert.equal(sem.available, 0);
        return 42;
      });
      assert.equal(value, 42);
      assert.equal(sem.available, 1);
    });

    it('releases the permit when fn rejects, throws synchronously or returns a plain value', async () => {
      const sem = new Semaphore(1);
      await assert.rejects(
        sem.run(async () => {
          throw new Error('async failure');
        }),
        /async failure/,
      );
      assert.equal(sem.available, 1);
      await assert.rejects(
        sem.run(() => {
          throw new Error('sync failure');
        }),
        /sync failure/,
      );
      assert.equal(sem.available, 1);
      assert.equal(await sem.run(() => 'plain'), 'plain');
      assert.equal(sem.available, 1);
    });

    it('settles queued work with its own outcome, also when it fails', async () => {
      const sem = new Semaphore(1);
      const held = await sem.acquire();
      const failing = sem.run(() => Promise.reject(new Error('queued failure')));
      const throwing = sem.run(() => {
        throw new Error('queued throw');
      });
      const plain = sem.run(() => 7);
      held.release();
      await assert.rejects(failing, /queued failure/);
      await assert.rejects(throwing, /queued throw/);
      assert.equal(await plain, 7);
      assert.equal(sem.available, 1);
    });

    it('never runs more than permits at once', async () => {
      const sem = new Semaphore(3);
      let running = 0;
      let peak = 0;
      await Promise.all(
        Array.from({ length: 30 }, () =>
          sem.run(async () => {
            running++;
            peak = Math.max(peak, running);
            await nextTurn();
            running--;
          }),
        ),
      );
      assert.equal(peak, 3);
      assert.equal(sem.available, 3);
    });

    it('drains 100,000 queued synchronous tasks without growing the stack', async () => {
      const sem = new Semaphore(1);
      const held = await sem.acquire();
      let count = 0;
      const all = Array.from({ length: 100_000 }, () =>
        sem.run(() => {
          count++;
        }),
      );
      held.release();
      await Promise.all(all);
      assert.equal(count, 100_000);
      assert.equal(sem.available, 1);
    });

    it('rejects a non-function', async () => {
      const sem = new Semaphore(1);
      await assert.rejects(
        sem.run('nope' as unknown as () => void),
        /Semaphore.run: fn must be a function, got string/,
      );
    });
  });

  it('reports a stats snapshot', async () => {
    const sem = new Semaphore(2);
    await sem.acquire();
    sem.tryAcquire();
    const controller = new AbortController();
    const cancelled = sem.acquire({ signal: controller.signal });
    const waiting = sem.acquire();
    controller.abort();
    await assert.rejects(cancelled);
    const stats = sem.stats();
    assert.deepEqual(stats, {
      permits: 2,
      available: 0,
      waiting: 1,
      acquiredTotal: 2,
      cancelledTotal: 1,
    });
    sem.release();
    await waiting;
    assert.equal(stats.waiting, 1, 'a snapshot, not a live view');
    assert.equal(sem.stats().acquiredTotal, 3);
  });
});

describe('BoundedSemaphore', () => {
  it('throws on a release above its initial value, naming the numbers', async () => {
    const sem = new BoundedSemaphore(2);
    assert.throws(
      () => sem.release(),
      /BoundedSemaphore.release: released more times than acquired \(2 of 2 permits already available\)/,
    );
    const permit = await sem.acquire();
    permit.release();
    permit.release();
    assert.equal(sem.available, 2);
  });

  it('accepts a release while a hand-over to a waiter is in progress', async () => {
    const sem = new BoundedSemaphore(1);
    const held = await sem.acquire();
    const waiter = sem.acquire();
    held.release();
    const permit = await waiter;
    permit.release();
    assert.equal(sem.available, 1);
  });
});

describe('Lock', () => {
  it('is locked while held and unlocked after release', async () => {
    const lock = new Lock();
    assert.equal(lock.locked, false);
    const permit = await lock.acquire();
    assert.equal(lock.locked, true);
    permit.release();
    assert.equal(lock.locked, false);
  });

  it('throws when released while nobody holds it', async () => {
    const lock = new Lock();
    assert.throws(() => lock.release(), /Lock.release: the lock is not held/);
    await lock.acquire();
    lock.release();
    assert.throws(() => lock.release(), /not held/);
  });

  it('stays locked while it is handed to the next waiter', async () => {
    const lock = new Lock();
    const held = await lock.acquire();
    const next = lock.acquire();
    held.release();
    assert.equal(lock.locked, true);
    (await next).release();
    assert.equal(lock.locked, false);
  });

  it('runs critical sections one at a time, in order', async () => {
    const lock = new Lock();
    const log: string[] = [];
    await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        lock.run(async () => {
          log.push(`${name}:in`);
          await nextTurn();
          log.push(`${name}:out`);
        }),
      ),
    );
    assert.deepEqual(log, ['a:in', 'a:out', 'b:in', 'b:out', 'c:in', 'c:out']);
  });
});
