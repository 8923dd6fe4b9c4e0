import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimeoutError } from '../../src/cancel/index.ts';
import {
  adaptiveConcurrency,
  BulkheadRejectedError,
  type LimitChangeEvent,
  TestClock,
} from '../../src/resilience/index.ts';
import { deferred, failOnUnhandledRejections, settled } from '../support/helpers.ts';

failOnUnhandledRejections();

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * A downstream whose capacity changes over time, on a TestClock: up to `capacity` concurrent
 * calls take BASE ms; each call beyond capacity adds BASE ms (it queues); past twice the
 * capacity it sheds load with a 503.
 */
function simulate(schedule: [fromMs: number, capacity: number][], durationMs: number) {
  const BASE = 100;
  const clock = new TestClock();
  const limiter = adaptiveConcurrency({
    min: 2,
    max: 200,
    initial: 2,
    latencyTargetMs: BASE * 1.5,
    clock,
  });
  let inside = 0;
  let maxInsideOverLimit = 0;
  const capacityAt = (t: number) => schedule.filter(([from]) => from <= t).at(-1)![1];
  const downstream = async (signal: AbortSignal) => {
    inside++;
    maxInsideOverLimit = Math.max(maxInsideOverLimit, inside - limiter.limit);
    try {
      const capacity = capacityAt(clock.now());
      if (inside > 2 * capacity) {
        await clock.sleep(BASE / 10, { signal });
        throw Object.assign(new Error('overloaded'), { status: 503 });
      }
      await clock.sleep(BASE + Math.max(0, inside - capacity) * BASE, { signal });
    } finally {
      inside--;
    }
  };
  return {
    clock,
    limiter,
    maxInsideOverLimit: () => maxInsideOverLimit,
    async run(clients: number) {
      const stop = new AbortController();
      const loops = Array.from({ length: clients }, async () => {
        while (!stop.signal.aborted) {
          await limiter.execute(downstream, { signal: stop.signal }).catch(() => {});
        }
      });
      const samples: { t: number; limit: number }[] = [];
      while (clock.now() < durationMs) {
        await clock.advance(100);
        samples.push({ t: clock.now(), limit: limiter.limit });
      }
      stop.abort();
      await Promise.all(loops);
      return samples;
    },
  };
}

describe('adaptiveConcurrency', () => {
  it('converges near a changing capacity, never goes below min and recovers after an overload', async () => {
    const sim = simulate(
      [
        [0, 20],
        [20_000, 5],
        [40_000, 30],
      ],
      70_000,
    );
    const samples = await sim.run(80);
    const phase = (from: number, to: number) =>
      samples.filter((s) => s.t > from && s.t <= to).map((s) => s.limit);
    const steady20 = mean(phase(10_000, 20_000));
    const steady5 = mean(phase(30_000, 40_000));
    const steady30 = mean(phase(60_000, 70_000));
    assert.ok(steady20 >= 15 && steady20 <= 24, `capacity 20: mean limit ${steady20}`);
    assert.ok(steady5 >= 3.5 && steady5 <= 7, `capacity 5: mean limit ${steady5}`);
    assert.ok(steady30 >= 23 && steady30 <= 35, `capacity 30: mean limit ${steady30}`);
    assert.ok(Math.min(...samples.map((s) => s.limit)) >= 2, 'never below min');
    assert.equal(sim.maxInsideOverLimit(), 0, 'never more calls running than the limit');
    assert.equal(sim.limiter.stats().running, 0);
    assert.equal(sim.clock.pending, 0);
  });

  it('cuts once per round, not once per failure, when a burst of calls times out together', async () => {
    const clock = new TestClock();
    const limiter = adaptiveConcurrency({ initial: 10, min: 1, backoffRatio: 0.5, clock });
    const changes: LimitChangeEvent[] = [];
    limiter.onLimitChange((e) => changes.push(e));
    const gates = Array.from({ length: 10 }, () => deferred());
    const calls = gates.map((g) => limiter.execute(() => g.promise).catch(() => {}));
    for (const g of gates) g.reject(new TimeoutError(100));
    await Promise.all(calls);
    assert.equal(limiter.limit, 5);
    assert.deepEqual(changes, [{ from: 10, to: 5, reason: 'overload' }]);
  });

  it('treats 429 and 503 responses as overload and other errors as neither', async () => {
    const limiter = adaptiveConcurrency({ initial: 8, backoffRatio: 0.5 });
    await limiter
      .execute(async () => {
        throw new Error('bad input');
      })
      .catch(() => {});
    assert.equal(limiter.limit, 8);
    await limiter
      .execute(async () => {
        throw Object.assign(new Error('slow down'), { statusCode: 429 });
      })
      .catch(() => {});
    assert.equal(limiter.limit, 4);
  });

  it('queues calls over the limit in order, cancellably, and refuses past its queue', async () => {
    const limiter = adaptiveConcurrency({ initial: 1, min: 1, max: 1, queue: 1 });
    const gate = deferred();
    const first = limiter.execute(() => gate.promise);
    const controller = new AbortController();
    const queued = limiter.execute(async () => 'queued', { signal: controller.signal });
    await assert.rejects(
      limiter.execute(async () => 'x'),
      BulkheadRejectedError,
    );
    controller.abort('gone');
    assert.deepEqual(await settled(queued), { state: 'rejected', reason: 'gone' });
    const next = limiter.execute(async () => 'next');
    gate.resolve();
    await first;
    assert.equal(await next, 'next');
    assert.deepEqual(
      { running: limiter.stats().running, queued: limiter.stats().queued },
      { running: 0, queued: 0 },
    );
  });

  it('does not lose a slot when a waiter is aborted in the tick its slot is handed over', async () => {
    const limiter = adaptiveConcurrency({ initial: 1, min: 1, max: 1 });
    const gate = deferred();
    const first = limiter.execute(() => gate.promise);
    const controller = new AbortController();
    const queued = limiter.execute(async () => 'queued', { signal: controller.signal });
    gate.resolve();
    await Promise.resolve();
    await Promise.resolve();
    controller.abort('late');
    await first;
    await queued.catch(() => {});
    assert.equal(await limiter.execute(async () => 'after'), 'after');
    assert.equal(limiter.stats().running, 0);
  });

  it('validates its options', () => {
    assert.throws(() => adaptiveConcurrency({ min: 0 }), /min must be >= 1/);
    assert.throws(() => adaptiveConcurrency({ min: 5, max: 2 }), /max must be >= 5/);
    assert.throws(() => adaptiveConcurrency({ initial: 50, max: 10 }), /initial must be <= 10/);
  });
});
