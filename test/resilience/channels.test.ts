import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import {
  adaptiveConcurrency,
  bulkhead,
  circuitBreaker,
  constant,
  fallback,
  rateLimit,
  retry,
  TestClock,
} from '../../src/resilience/index.ts';
import { deferred, failOnUnhandledRejections } from '../support/helpers.ts';

failOnUnhandledRejections();

/** Collects what is published on `switchyard:policy:<event>` while `body` runs. */
async function listen(event: string, body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onMessage = (message: unknown) => seen.push(message);
  diagnostics.subscribe(`switchyard:policy:${event}`, onMessage);
  try {
    await body();
  } finally {
    diagnostics.unsubscribe(`switchyard:policy:${event}`, onMessage);
  }
  return seen;
}

const fail = async () => {
  throw new Error('x');
};

describe('switchyard:policy diagnostics channels', () => {
  it('publishes each retry with the policy name, attempt and delay', async () => {
    const seen = await listen('retry', async () => {
      const clock = new TestClock();
      const p = retry({ name: 'api', attempts: 2, backoff: constant(5), clock }).execute(fail);
      const outcome = assert.rejects(p);
      await clock.advance(5);
      await outcome;
    });
    assert.equal(seen.length, 1);
    assert.deepEqual(
      { ...(seen[0] as object), error: undefined },
      {
        policy: 'api',
        attempt: 1,
        delayMs: 5,
        hinted: false,
        error: undefined,
      },
    );
  });

  it('publishes circuit state changes and rejections', async () => {
    const states = await listen('circuit-state', async () => {
      const rejected = await listen('circuit-rejected', async () => {
        const breaker = circuitBreaker({ name: 'db', failureThreshold: 1 });
        await assert.rejects(breaker.execute(fail));
        await assert.rejects(breaker.execute(fail));
      });
      assert.equal(rejected.length, 1);
      assert.equal((rejected[0] as { policy: string }).policy, 'db');
    });
    assert.deepEqual(
      states.map((s) => {
        const { policy, from, to } = s as { policy: string; from: string; to: string };
        return { policy, from, to };
      }),
      [{ policy: 'db', from: 'closed', to: 'open' }],
    );
  });

  it('publishes rate-limit, bulkhead, fallback and limit events', async () => {
    const limited = await listen('rate-limited', async () => {
      const limiter = rateLimit({ rate: 1, maxWaitMs: 0, clock: new TestClock() });
      await limiter.execute(async () => {});
      await assert.rejects(limiter.execute(async () => {}));
    });
    assert.equal(limited.length, 1);
    const full = await listen('bulkhead-rejected', async () => {
      const b = bulkhead({ concurrency: 1 });
      const gate = deferred();
      const held = b.execute(() => gate.promise);
      await assert.rejects(b.execute(async () => {}));
      gate.resolve();
      await held;
    });
    assert.equal(full.length, 1);
    const used = await listen('fallback', async () => {
      await fallback(1, { name: 'fb' }).execute(fail);
    });
    assert.equal((used[0] as { policy: string }).policy, 'fb');
    const limits = await listen('limit', async () => {
      const a = adaptiveConcurrency({ initial: 4, backoffRatio: 0.5 });
      await a
        .execute(async () => {
          throw Object.assign(new Error('busy'), { status: 503 });
        })
        .catch(() => {});
    });
    assert.deepEqual(limits, [
      { policy: 'adaptiveConcurrency', from: 4, to: 2, reason: 'overload' },
    ]);
  });
});
