import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Event } from '../../src/sync/index.ts';
import {
  abortListeners,
  failOnUnhandledRejections,
  settled,
  stackDepth,
} from '../support/helpers.ts';

failOnUnhandledRejections();

describe('Event', () => {
  it('wakes every waiter, with or without a signal, when set', async () => {
    const event = new Event();
    const controller = new AbortController();
    const waits = [event.wait(), event.wait(), event.wait({ signal: controller.signal })];
    assert.equal(event.waiting, 3);
    assert.equal((await settled(waits[0]!)).state, 'pending');
    event.set();
    assert.equal(event.isSet, true);
    await Promise.all(waits);
    assert.equal(event.waiting, 0);
    assert.equal(abortListeners(controller.signal), 0);
  });

  it('resolves a wait at once while set, and blocks again after clear', async () => {
    const event = new Event();
    event.set();
    await event.wait();
    event.clear();
    assert.equal(event.isSet, false);
    assert.equal((await settled(event.wait())).state, 'pending');
  });

  it('rejects an aborted wait with the signal reason and leaves the others waiting', async () => {
    const event = new Event();
    const controller = new AbortController();
    const reason = new Error('gave up');
    const cancelled = event.wait({ signal: controller.signal });
    const other = event.wait();
    controller.abort(reason);
    await assert.rejects(cancelled, (e) => e === reason);
    assert.equal(event.waiting, 1);
    assert.equal(abortListeners(controller.signal), 0);
    event.set();
    await other;
  });

  it('settles at once on an already-aborted signal, even when set', async () => {
    const event = new Event();
    event.set();
    const reason = new Error('already');
    await assert.rejects(event.wait({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
  });

  it('rejects a signal option that is not an AbortSignal', async () => {
    await assert.rejects(
      new Event().wait({ signal: 'x' as unknown as AbortSignal }),
      /Event.wait: signal must be an AbortSignal, got string/,
    );
  });

  it('does not grow the stack over 10,000 sequential waits (p-queue #20)', async () => {
    const event = new Event();
    event.set();
    const before = stackDepth();
    let after = 0;
    for (let i = 0; i < 10_000; i++) {
      await event.wait();
      if (i % 2 === 0) {
        event.clear();
        queueMicrotask(() => event.set());
      }
      after = stackDepth();
    }
    assert.ok(after <= before + 2, `stack grew from ${before} to ${after} frames`);
  });
});
