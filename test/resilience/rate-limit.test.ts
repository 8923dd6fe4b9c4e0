import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RateLimitedError, rateLimit, TestClock } from '../../src/resilience/index.ts';
import { failOnUnhandledRejections, settled } from '../support/helpers.ts';

failOnUnhandledRejections();

describe('rateLimit', () => {
  it('lets a burst through at once, then paces calls at the rate', async () => {
    const clock = new TestClock();
    const limiter = rateLimit({ rate: 2, perMs: 1_000, burst: 3, clock });
    const started: number[] = [];
    const calls = Array.from({ length: 6 }, () =>
      limiter.execute(async () => {
        started.push(clock.now());
      }),
    );
    await clock.advance(0);
    assert.deepEqual(started, [0, 0, 0]);
    assert.equal(limiter.stats().waiting, 3);
    await clock.advance(2_000);
    await Promise.all(calls);
    assert.deepEqual(started, [0, 0, 0, 500, 1_000, 1_500]);
  });

  it('rejects with RateLimitedError saying when a token comes when maxWaitMs is 0', async () => {
    const clock = new TestClock();
    const limiter = rateLimit({ rate: 1, perMs: 100, burst: 1, maxWaitMs: 0, clock });
    await limiter.execute(async () => {});
    const error = await limiter.execute(async () => {}).catch((e: unknown) => e);
    assert.ok(error instanceof RateLimitedError);
    assert.equal(error.code, 'ERR_SWITCHYARD_RATE_LIMITED');
    assert.equal(error.retryAfterMs, 100);
    await clock.advance(100);
    await limiter.execute(async () => {});
    assert.deepEqual(
      { admitted: limiter.stats().admitted, rejected: limiter.stats().rejected },
      { admitted: 2, rejected: 1 },
    );
  });

  it('waits up to maxWaitMs and refuses calls that would wait longer', async () => {
    const clock = new TestClock();
    const limiter = rateLimit({ rate: 1, perMs: 100, burst: 1, maxWaitMs: 150, clock });
    const a = limiter.execute(async () => 'a');
    const b = limiter.execute(async () => 'b'); // waits 100
    const c = limiter.execute(async () => 'c'); // would wait 200
    await assert.rejects(c, RateLimitedError);
    await clock.advance(100);
    assert.deepEqual(await Promise.all([a, b]), ['a', 'b']);
  });

  it('rejects a waiting call with the signal reason and gives its token back', async () => {
    const clock = new TestClock();
    const limiter = rateLimit({ rate: 1, perMs: 100, burst: 1, clock });
    await limiter.execute(async () => {});
    const controller = new AbortController();
    let ran = false;
    const waiting = limiter.execute(
      async () => {
        ran = true;
      },
      { signal: controller.signal },
    );
    controller.abort('gone');
    assert.deepEqual(await settled(waiting), { state: 'rejected', reason: 'gone' });
    assert.equal(clock.pending, 0, 'no sleep left behind');
    await clock.advance(100);
    assert.equal(limiter.tryAcquire(), true, 'the cancelled reservation was returned');
    assert.equal(ran, false);
  });

  it('never starts more than burst + rate × elapsed calls, whatever the arrivals and cancellations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 300 }), cancel: fc.boolean() }), {
          minLength: 1,
          maxLength: 30,
        }),
        async (arrivals) => {
          const clock = new TestClock();
          const limiter = rateLimit({ rate: 3, perMs: 1_000, burst: 2, clock });
          const starts: number[] = [];
          const pending: Promise<unknown>[] = [];
          for (const { gap, cancel } of arrivals) {
            await clock.advance(gap);
            const controller = new AbortController();
            pending.push(
              limiter
                .execute(async () => void starts.push(clock.now()), { signal: controller.signal })
                .catch(() => {}),
            );
            if (cancel) controller.abort();
          }
          await clock.advance(20_000);
          await Promise.all(pending);
          for (let i = 0; i < starts.length; i++) {
            for (let j = i; j < starts.length; j++) {
              const allowed = 2 + (3 * (starts[j]! - starts[i]!)) / 1_000 + 1e-9;
              assert.ok(
                j - i + 1 <= allowed,
                `${j - i + 1} starts in [${starts[i]}, ${starts[j]}]`,
              );
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('validates its options', () => {
    assert.throws(() => rateLimit({ rate: 0 }), /rate must be > 0/);
    assert.throws(() => rateLimit({ rate: 1, burst: 0 }), /burst must be >= 1/);
    assert.throws(() => rateLimit(undefined as never), /rate/);
  });
});
