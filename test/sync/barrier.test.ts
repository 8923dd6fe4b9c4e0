import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Barrier, BrokenBarrierError } from '../../src/sync/index.ts';
import { abortListeners, failOnUnhandledRejections, settled } from '../support/helpers.ts';

failOnUnhandledRejections();

describe('Barrier', () => {
  it('releases every party when the last arrives, each with its arrival index', async () => {
    const barrier = new Barrier(3);
    const a = barrier.wait();
    const b = barrier.wait();
    assert.equal(barrier.waiting, 2);
    assert.equal((await settled(a)).state, 'pending');
    const c = barrier.wait();
    assert.deepEqual(await Promise.all([a, b, c]), [0, 1, 2]);
    assert.equal(barrier.waiting, 0);
  });

  it('is ready for the next round at once', async () => {
    const barrier = new Barrier(2);
    for (let round = 0; round < 3; round++) {
      assert.deepEqual(await Promise.all([barrier.wait(), barrier.wait()]), [0, 1]);
    }
  });

  it('breaks for everyone waiting and every later wait on abort, until reset', async () => {
    const barrier = new Barrier(3);
    const a = barrier.wait();
    const b = barrier.wait();
    barrier.abort();
    assert.equal(barrier.broken, true);
    for (const wait of [a, b]) {
      await assert.rejects(wait, (error) => {
        assert.ok(error instanceof BrokenBarrierError);
        assert.equal(error.code, 'ERR_SWITCHYARD_BROKEN_BARRIER');
        assert.match(error.message, /broken by abort\(\) with 2 of 3 parties waiting/);
        return true;
      });
    }
    await assert.rejects(barrier.wait(), /call reset\(\) before waiting on it again/);
    barrier.reset();
    assert.equal(barrier.broken, false);
    const waits = [barrier.wait(), barrier.wait(), barrier.wait()];
    assert.deepEqual(await Promise.all(waits), [0, 1, 2]);
  });

  it('rejects the parties waiting on reset and starts an empty round', async () => {
    const barrier = new Barrier(2);
    const early = barrier.wait();
    barrier.reset();
    await assert.rejects(early, /barrier reset with 1 of 2 parties waiting/);
    assert.equal(barrier.waiting, 0);
    assert.deepEqual(await Promise.all([barrier.wait(), barrier.wait()]), [0, 1]);
  });

  it('gives an aborted waiter’s place back, keeping indices distinct', async () => {
    const barrier = new Barrier(3);
    const controller = new AbortController();
    const a = barrier.wait();
    const cancelled = barrier.wait({ signal: controller.signal });
    const reason = new Error('left');
    controller.abort(reason);
    await assert.rejects(cancelled, (e) => e === reason);
    assert.equal(barrier.waiting, 1);
    assert.equal(abortListeners(controller.signal), 0);
    const b = barrier.wait();
    assert.equal((await settled(b)).state, 'pending', 'the round still needs a third party');
    const c = barrier.wait();
    assert.deepEqual(await Promise.all([a, b, c]), [0, 1, 2]);
  });

  it('settles at once on an already-aborted signal without taking a place', async () => {
    const barrier = new Barrier(2);
    const reason = new Error('already');
    await assert.rejects(barrier.wait({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
    assert.equal(barrier.waiting, 0);
  });

  it('removes the abort listener of parties released by the last arrival', async () => {
    const barrier = new Barrier(2);
    const controller = new AbortController();
    const a = barrier.wait({ signal: controller.signal });
    await barrier.wait();
    await a;
    assert.equal(abortListeners(controller.signal), 0);
  });

  it('lets a single party through at once, and rejects bad parties naming the option', async () => {
    assert.equal(await new Barrier(1).wait(), 0);
    assert.throws(() => new Barrier(0), /Barrier: parties must be an integer >= 1, got 0/);
  });
});
