import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CircuitOpenError,
  constant,
  RetryBudget,
  type RetryEvent,
  retry,
  TestClock,
} from '../../src/resilience/index.ts';
import { activeTimers, failOnUnhandledRejections, settled } from '../support/helpers.ts';

failOnUnhandledRejections();

/** Work that fails `failures` times (with the given errors) and then resolves 'ok'. */
function flaky(failures: number, makeError = (n: number) => new Error(`fail ${n}`)) {
  let calls = 0;
  const fn = async () => {
    calls++;
    if (calls <= failures) throw makeError(calls);
    return 'ok';
  };
  return { fn, calls: () => calls };
}

describe('retry', () => {
  it('resolves with the first success, sleeping the backoff between attempts', async () => {
    const clock = new TestClock();
    const work = flaky(2);
    const policy = retry({ attempts: 3, backoff: constant(100), clock });
    const result = policy.execute(work.fn);
    await clock.advance(99);
    assert.equal(work.calls(), 1, 'the second attempt waits the full 100 ms');
    await clock.advance(1);
    assert.equal(work.calls(), 2);
    await clock.advance(100);
    assert.equal(await result, 'ok');
    assert.equal(work.calls(), 3);
    assert.deepEqual(policy.stats(), { calls: 1, retries: 2, failures: 0, budgetExhausted: 0 });
  });

  it('counts attempts with the first call included and rethrows the last error unwrapped', async () => {
    const clock = new TestClock();
    const work = flaky(10);
    const result = retry({ attempts: 3, backoff: constant(10), clock }).execute(work.fn);
    const outcome = assert.rejects(result, { message: 'fail 3' });
    await clock.advance(1_000);
    await outcome;
    assert.equal(work.calls(), 3);
  });

  it('never retries when attempts is 1', async () => {
    const work = flaky(1);
    await assert.rejects(retry({ attempts: 1 }).execute(work.fn), { message: 'fail 1' });
    assert.equal(work.calls(), 1);
  });

  it('stops at once on an error retryOn refuses', async () => {
    const work = flaky(5, (n) => Object.assign(new Error(`fail ${n}`), { fatal: n === 1 }));
    const retryOn = (e: unknown) => !(e as { fatal: boolean }).fatal;
    await assert.rejects(retry({ retryOn }).execute(work.fn), { message: 'fail 1' });
    assert.equal(work.calls(), 1);
  });

  it('does not retry an open circuit by default', async () => {
    const work = flaky(1, () => new CircuitOpenError(5_000, 5_000));
    await assert.rejects(retry().execute(work.fn), CircuitOpenError);
    assert.equal(work.calls(), 1);
  });

  it('retries a result that retryOnResult rejects and returns the last one when attempts run out', async () => {
    const clock = new TestClock();
    let n = 0;
    const policy = retry({
      attempts: 3,
      backoff: constant(1),
      clock,
      retryOnResult: (v) => (v as { status: number }).status === 503,
    });
    const result = policy.execute(async () => ({ status: 503, n: ++n }));
    await clock.advance(10);
    assert.deepEqual(await result, { status: 503, n: 3 });
    const ok = policy.execute(async () => ({ status: 200 }));
    assert.deepEqual(await ok, { status: 200 });
  });

  it('replaces the computed delay with a retryAfterMs hint on the error', async () => {
    const clock = new TestClock();
    const work = flaky(1, () => Object.assign(new Error('429'), { retryAfterMs: 2_000 }));
    const events: RetryEvent[] = [];
    const result = retry({ backoff: constant(10), clock, onRetry: (e) => events.push(e) }).execute(
      work.fn,
    );
    await clock.advance(1_999);
    assert.equal(work.calls(), 1);
    await clock.advance(1);
    assert.equal(await result, 'ok');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.delayMs, 2_000);
    assert.equal(events[0]!.hinted, true);
  });

  it('gives up rather than sleep for a hint longer than maxRetryAfterMs', async () => {
    const work = flaky(1, () => Object.assign(new Error('503'), { retryAfterMs: 3_600_000 }));
    const reasons: string[] = [];
    const policy = retry({ maxRetryAfterMs: 60_000 });
    policy.onGiveUp((e) => reasons.push(e.reason));
    await assert.rejects(policy.execute(work.fn), { message: '503' });
    assert.equal(work.calls(), 1);
    assert.deepEqual(reasons, ['retryAfterTooLong']);
  });

  it('rejects with the signal reason when aborted during the backoff sleep, and leaves no timer', async () => {
    const controller = new AbortController();
    const work = flaky(5);
    const timersBefore = activeTimers();
    const result = retry({ backoff: constant(60_000) }).execute(work.fn, {
      signal: controller.signal,
    });
    await settled(result);
    assert.equal(activeTimers(), timersBefore + 1, 'the real backoff sleep is pending');
    const reason = new Error('shutting down');
    controller.abort(reason);
    assert.deepEqual(await settled(result), { state: 'rejected', reason });
    assert.equal(activeTimers(), timersBefore);
    assert.equal(work.calls(), 1);
  });

  it('does not retry a failure caused by the caller aborting', async () => {
    const controller = new AbortController();
    let calls = 0;
    const result = retry({ backoff: constant(0) }).execute(
      (signal) =>
        new Promise((_, reject) => {
          calls++;
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
      { signal: controller.signal },
    );
    controller.abort('stop');
    await assert.rejects(result, (e) => e === 'stop');
    assert.equal(calls, 1);
  });

  it('rejects at once without calling fn when the signal is already aborted', async () => {
    let calls = 0;
    await assert.rejects(
      retry().execute(
        () => {
          calls++;
        },
        { signal: AbortSignal.abort('early') },
      ),
      (e) => e === 'early',
    );
    assert.equal(calls, 0);
  });

  it('passes the caller signal to every attempt', async () => {
    const controller = new AbortController();
    const seen: AbortSignal[] = [];
    const clock = new TestClock();
    const result = retry({ backoff: constant(1), clock }).execute(
      async (signal) => {
        seen.push(signal);
        if (seen.length < 2) throw new Error('again');
        return 1;
      },
      { signal: controller.signal },
    );
    await clock.advance(1);
    await result;
    assert.deepEqual(seen, [controller.signal, controller.signal]);
  });

  it('stops a retry storm once the budget of retries per call is spent', async () => {
    const clock = new TestClock();
    const budget = new RetryBudget({ ratio: 0.1, minRetries: 2, windowMs: 10_000, clock });
    const policy = retry({ attempts: 5, backoff: constant(1), budget, clock });
    let calls = 0;
    const results = Array.from({ length: 20 }, () =>
      policy.execute(async () => {
        calls++;
        throw new Error('down');
      }),
    );
    for (const r of results) r.catch(() => {});
    await clock.advance(100);
    for (const r of results) await assert.rejects(r, { message: 'down' });
    // 20 calls: at most 2 + 0.1 × 20 = 4 retries, instead of 80 without a budget.
    assert.equal(calls, 24);
    assert.equal(policy.stats().retries, 4);
    assert.equal(policy.stats().budgetExhausted, 20, 'every call ended refused by the budget');
  });

  it('refills the budget as the window rolls on', async () => {
    const clock = new TestClock();
    const budget = new RetryBudget({ ratio: 0, minRetries: 1, windowMs: 1_000, clock });
    assert.equal(budget.tryRetry(), true);
    assert.equal(budget.tryRetry(), false);
    await clock.advance(1_000);
    assert.equal(budget.tryRetry(), true);
  });

  it('validates its options, naming the one at fault', () => {
    assert.throws(() => retry({ attempts: 0 }), /attempts must be >= 1/);
    assert.throws(() => retry({ attempts: 1.5 }), /attempts must be an integer/);
    assert.throws(() => retry({ backoff: {} as never }), /backoff/);
    assert.throws(() => retry({ retryOn: 5 as never }), /retryOn must be a function/);
  });

  it('rejects rather than throws when fn is not a function', async () => {
    const p = retry().execute(5 as never);
    await assert.rejects(p, TypeError);
  });
});
