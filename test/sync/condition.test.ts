import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Condition, Lock } from '../../src/sync/index.ts';
import {
  abortListeners,
  failOnUnhandledRejections,
  nextTurn,
  settled,
} from '../support/helpers.ts';

failOnUnhandledRejections();

describe('Condition', () => {
  it('rejects wait and waitFor, and throws on notify and notifyAll, without the lock', async () => {
    const cond = new Condition();
    await assert.rejects(cond.wait(), /Condition.wait: the lock is not held; acquire it first/);
    await assert.rejects(
      cond.waitFor(() => true),
      /Condition.waitFor: the lock is not held/,
    );
    assert.throws(() => cond.notify(), /Condition.notify: the lock is not held/);
    assert.throws(() => cond.notifyAll(), /Condition.notifyAll: the lock is not held/);
  });

  it('releases the lock while waiting and holds it again when the wait resolves', async () => {
    const cond = new Condition();
    await cond.acquire();
    const waiting = cond.wait();
    assert.equal(cond.locked, false, 'wait released the lock');
    await cond.acquire();
    cond.notify();
    cond.release();
    await waiting;
    assert.equal(cond.locked, true);
    cond.release();
  });

  it('wakes n waiters in the order they started waiting', async () => {
    const cond = new Condition();
    const woken: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      cond.run(async () => {
        await cond.wait();
        woken.push(n);
      }),
    );
    await nextTurn();
    assert.equal(cond.waiting, 3);
    await cond.run(() => cond.notify(2));
    await nextTurn();
    assert.deepEqual(woken, [1, 2]);
    await cond.run(() => cond.notifyAll());
    await Promise.all(waiters);
    assert.deepEqual(woken, [1, 2, 3]);
  });

  it('resolves waitFor with the first truthy value of the predicate', async () => {
    const cond = new Condition();
    let stock = 0;
    const consumer = cond.run(() => cond.waitFor(() => stock >= 2 && `got ${stock}`));
    for (let i = 0; i < 3; i++) {
      await cond.run(() => {
        stock++;
        cond.notifyAll();
      });
      await nextTurn();
    }
    assert.equal(await consumer, 'got 2');
  });

  it('re-acquires the lock before rejecting an aborted wait', async () => {
    const lock = new Lock();
    const cond = new Condition(lock);
    await cond.acquire();
    const controller = new AbortController();
    const reason = new Error('stop');
    const waiting = cond.wait({ signal: controller.signal });
    const holder = await lock.acquire();
    controller.abort(reason);
    assert.equal((await settled(waiting)).state, 'pending', 'waits for the lock first');
    holder.release();
    await assert.rejects(waiting, (e) => e === reason);
    assert.equal(lock.locked, true, 'the rejected waiter holds the lock');
    assert.equal(cond.waiting, 0);
    assert.equal(abortListeners(controller.signal), 0);
    cond.release();
  });

  it('rejects at once on an already-aborted signal, still holding the lock', async () => {
    const cond = new Condition();
    await cond.acquire();
    const reason = new Error('already');
    await assert.rejects(cond.wait({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
    assert.equal(cond.locked, true);
    assert.equal(cond.waiting, 0);
  });

  it('passes a notification on when it lands on a wait that is being cancelled', async () => {
    const cond = new Condition();
    const controller = new AbortController();
    const first = cond.run(() => cond.wait({ signal: controller.signal }));
    await nextTurn();
    const second = cond.run(() => cond.wait());
    await nextTurn();
    await cond.acquire();
    cond.notify(1);
    controller.abort(new Error('cancelled after notify'));
    cond.release();
    await assert.rejects(first, /cancelled after notify/);
    await second;
    assert.equal(cond.locked, false);
  });

  it('rejects bad arguments with errors naming them', async () => {
    assert.throws(() => new Condition({} as Lock), /Condition: lock must be a Lock/);
    const cond = new Condition();
    await cond.acquire();
    assert.throws(() => cond.notify(-1), /Condition.notify: n must be a number >= 0, got -1/);
    await assert.rejects(
      cond.waitFor(42 as unknown as () => boolean),
      /predicate must be a function/,
    );
  });
});
