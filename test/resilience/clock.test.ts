import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock, TestClock } from '../../src/resilience/index.ts';
import { failOnUnhandledRejections, settled } from '../support/helpers.ts';

failOnUnhandledRejections();

describe('TestClock', () => {
  it('only moves when advanced, and wakes sleepers in due order', async () => {
    const clock = new TestClock(1_000);
    const order: string[] = [];
    const a = clock.sleep(30).then(() => order.push(`a@${clock.now()}`));
    const b = clock.sleep(10).then(() => order.push(`b@${clock.now()}`));
    assert.equal(clock.now(), 1_000);
    assert.equal(clock.pending, 2);
    await clock.advance(20);
    assert.deepEqual(order, ['b@1010']);
    assert.equal(clock.now(), 1_020);
    await clock.advance(10);
    await Promise.all([a, b]);
    assert.deepEqual(order, ['b@1010', 'a@1030']);
  });

  it('honours sleeps started by woken work within the same advance', async () => {
    const clock = new TestClock();
    const times: number[] = [];
    const loop = (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(100);
        times.push(clock.now());
      }
    })();
    await clock.advance(1_000);
    await loop;
    assert.deepEqual(times, [100, 200, 300]);
  });

  it('rejects a sleep with the signal reason and forgets it when aborted', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(100, { signal: controller.signal });
    const reason = new Error('stop');
    controller.abort(reason);
    assert.deepEqual(await settled(sleeping), { state: 'rejected', reason });
    assert.equal(clock.pending, 0);
    await assert.rejects(clock.sleep(5, { signal: controller.signal }), (e) => e === reason);
  });

  it('advances to the next sleeper with next()', async () => {
    const clock = new TestClock();
    const done = clock.sleep(42);
    assert.equal(await clock.next(), true);
    await done;
    assert.equal(clock.now(), 42);
    assert.equal(await clock.next(), false);
  });
});

describe('systemClock', () => {
  it('is monotonic and sleeps through cancel/sleep', async () => {
    const a = systemClock.now();
    await systemClock.sleep(0);
    assert.ok(systemClock.now() >= a);
    const controller = new AbortController();
    controller.abort('why');
    await assert.rejects(systemClock.sleep(10, { signal: controller.signal }), (e) => e === 'why');
  });
});
