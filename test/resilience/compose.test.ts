import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { TimeoutError, timeout } from '../../src/cancel/index.ts';
import {
  bulkhead,
  CircuitOpenError,
  circuitBreaker,
  compose,
  constant,
  fallback,
  retry,
  TestClock,
} from '../../src/resilience/index.ts';
import {
  abortListeners,
  activeTimers,
  deferred,
  failOnUnhandledRejections,
} from '../support/helpers.ts';

failOnUnhandledRejections();

describe('compose', () => {
  it('nests policies with the first outermost', async () => {
    const order: string[] = [];
    const tracer = (name: string) => ({
      async execute<T>(
        fn: (s: AbortSignal) => T | PromiseLike<T>,
        options?: { signal?: AbortSignal },
      ) {
        order.push(`${name} in`);
        try {
          return await fn(options?.signal ?? new AbortController().signal);
        } finally {
          order.push(`${name} out`);
        }
      },
    });
    const result = await compose(tracer('a'), tracer('b'), tracer('c')).execute(async () => {
      order.push('fn');
      return 42;
    });
    assert.equal(result, 42);
    assert.deepEqual(order, ['a in', 'b in', 'c in', 'fn', 'c out', 'b out', 'a out']);
  });

  it('keeps the result type, widened only by a fallback', async () => {
    const n: number = await compose(retry(), circuitBreaker()).execute(async () => 1);
    const m: number | 'cached' = await compose(fallback('cached' as const), retry()).execute(
      async () => 2,
    );
    // @ts-expect-error a fallback's value widens the type
    const wrong: number = await compose(fallback('x'), retry()).execute(async () => 3);
    assert.deepEqual([n, m, wrong], [1, 2, 3]);
  });

  it('accepts timeout(ms) from cancel/ and retries each attempt under its own budget', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const clock = new TestClock();
      let attempts = 0;
      const policy = compose(retry({ attempts: 2, backoff: constant(0), clock }), timeout(100));
      const result = policy.execute(
        (signal) =>
          new Promise((resolve, reject) => {
            attempts++;
            if (attempts === 2) resolve('second');
            signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          }),
      );
      await Promise.resolve();
      mock.timers.tick(100);
      await clock.advance(0);
      assert.equal(await result, 'second');
      assert.equal(attempts, 2);
    } finally {
      mock.timers.reset();
    }
  });

  it('rejects with TimeoutError when the inner timeout runs out on every attempt', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const clock = new TestClock();
      const policy = compose(retry({ attempts: 2, backoff: constant(0), clock }), timeout(50));
      const result = policy.execute(
        (signal) =>
          new Promise((_, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
          ),
      );
      const outcome = assert.rejects(result, TimeoutError);
      await Promise.resolve();
      mock.timers.tick(50);
      await clock.advance(0);
      mock.timers.tick(50);
      await outcome;
    } finally {
      mock.timers.reset();
    }
  });

  it('stops retrying through an open breaker and answers with the fallback', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ failureThreshold: 2, halfOpenAfterMs: 60_000, clock });
    const policy = compose(
      fallback((error) => `fallback for ${(error as Error).name}`),
      retry({ attempts: 5, backoff: constant(10), clock }),
      breaker,
    );
    let calls = 0;
    const result = policy.execute(async () => {
      calls++;
      throw new Error('down');
    });
    await clock.advance(100);
    assert.equal(await result, 'fallback for CircuitOpenError');
    assert.equal(calls, 2, 'the breaker opened after 2 failures; the third attempt never ran');
  });

  it('leaves no timer and no abort listener behind, success or failure', async () => {
    const controller = new AbortController();
    const timersBefore = activeTimers();
    const policy = compose(
      timeout(10_000),
      retry({ attempts: 2, backoff: constant(0) }),
      circuitBreaker(),
      bulkhead({ concurrency: 4, queue: 4 }),
    );
    assert.equal(await policy.execute(async () => 'ok', { signal: controller.signal }), 'ok');
    await assert.rejects(
      policy.execute(
        async () => {
          throw new Error('x');
        },
        { signal: controller.signal },
      ),
    );
    assert.equal(activeTimers(), timersBefore);
    assert.equal(abortListeners(controller.signal), 0);
  });

  it('rejects with the caller reason when the caller aborts while queued in the bulkhead', async () => {
    const clock = new TestClock();
    const gate = deferred();
    const policy = compose(retry({ clock }), bulkhead({ concurrency: 1, queue: 1 }));
    const first = policy.execute(() => gate.promise);
    const controller = new AbortController();
    const second = policy.execute(async () => 'x', { signal: controller.signal });
    controller.abort('bye');
    await assert.rejects(second, (e) => e === 'bye');
    await assert.rejects(
      compose(bulkhead({ concurrency: 1 })).execute(async () => {}, {
        signal: AbortSignal.abort('early'),
      }),
      (e) => e === 'early',
    );
    gate.resolve();
    await first;
  });

  it('refuses something that is not a policy, naming its position', () => {
    assert.throws(() => compose(retry(), {} as never), /argument 2 is not a policy/);
  });

  it('runs the work directly when composed of nothing', async () => {
    assert.equal(await compose().execute(() => 5), 5);
  });
});

describe('fallback', () => {
  it('replaces a failure with a value or the result of a function of the error', async () => {
    assert.equal(
      await fallback(0).execute(async () => {
        throw new Error('x');
      }),
      0,
    );
    assert.equal(
      await fallback(async (e) => `got ${(e as Error).message}`).execute(async () => {
        throw new Error('x');
      }),
      'got x',
    );
    assert.equal(await fallback(0).execute(async () => 9), 9);
  });

  it('never replaces the caller abort', async () => {
    const controller = new AbortController();
    const p = fallback('nope').execute(
      (signal) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { signal: controller.signal },
    );
    controller.abort('stop');
    await assert.rejects(p, (e) => e === 'stop');
  });

  it('passes errors through that handle declines', async () => {
    const p = fallback('x', { handle: (e) => e instanceof CircuitOpenError }).execute(async () => {
      throw new Error('other');
    });
    await assert.rejects(p, { message: 'other' });
  });
});

/**
 * `timeout(ms)` inside `compose()` hands the inner layers a deferred signal: a deadline that
 * becomes a real AbortSignal and timer only when a layer waits or the work takes a signal.
 * Time is driven by hand: `performance.now` is mocked (the deadline) and so is `setTimeout`
 * (the timer armed once the signal is made).
 */
describe('compose with timeout(ms): the signal is made only when someone needs it', () => {
  let now = 0;
  const useClock = () => {
    now = 1_000;
    mock.method(performance, 'now', () => now);
    mock.timers.enable({ apis: ['setTimeout'] });
  };
  const restoreClock = () => {
    mock.timers.reset();
    mock.restoreAll();
  };
  const advance = (ms: number) => {
    now += ms;
    mock.timers.tick(ms);
  };

  it('arms no timer and adds no listener for work that takes no signal', async () => {
    const caller = new AbortController();
    const policy = compose(
      timeout(60_000),
      retry(),
      circuitBreaker(),
      bulkhead({ concurrency: 2 }),
    );
    const before = activeTimers();
    const gate = deferred<string>();
    const call = policy.execute(() => gate.promise, { signal: caller.signal });
    assert.equal(activeTimers(), before, 'no timer while the work runs');
    assert.equal(abortListeners(caller.signal), 0, 'no listener on the caller signal');
    gate.resolve('ok');
    assert.equal(await call, 'ok');
    assert.equal(activeTimers(), before);
  });

  it('gives work that declares a parameter a real signal that aborts at the deadline', async () => {
    useClock();
    try {
      const breaker = circuitBreaker();
      const retrying = retry({ attempts: 3, backoff: constant(0) });
      const policy = compose(timeout(50), retrying, breaker, bulkhead({ concurrency: 1 }));
      let seen: AbortSignal | undefined;
      const call = policy.execute((signal) => {
        seen = signal;
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        );
      });
      const outcome = call.catch((e: unknown) => e);
      assert.ok(seen instanceof AbortSignal);
      assert.equal(seen.aborted, false);
      advance(49);
      assert.equal(seen.aborted, false, 'not before the deadline');
      advance(1);
      const error = await outcome;
      assert.ok(error instanceof TimeoutError);
      assert.equal(error.ms, 50);
      assert.equal(seen.reason, error);
      assert.equal(retrying.stats().retries, 0, 'the timeout ended the call: no retry');
      assert.equal(breaker.stats().failures, 0, 'an abort counts neither way in the breaker');
    } finally {
      restoreClock();
    }
  });

  it('stops retrying once the deadline has passed, even though no signal was ever made', async () => {
    useClock();
    try {
      const policy = compose(timeout(50), retry({ attempts: 5, backoff: constant(0) }));
      let attempts = 0;
      const failure = new Error('slow and failed');
      const gate = deferred();
      const call = policy.execute(async () => {
        attempts++;
        await gate.promise;
        throw failure;
      });
      advance(60);
      gate.resolve();
      await assert.rejects(call, (e) => e === failure);
      assert.equal(attempts, 1);
    } finally {
      restoreClock();
    }
  });

  it('makes the signal for a backoff sleep and cuts the sleep at the deadline with the TimeoutError', async () => {
    useClock();
    try {
      let attempts = 0;
      const policy = compose(timeout(50), retry({ attempts: 3, backoff: constant(1_000) }));
      const call = policy.execute(async () => {
        attempts++;
        throw new Error('down');
      });
      const outcome = call.catch((e: unknown) => e);
      // Let the first attempt fail and the retry start its 1 s sleep (under the real signal).
      await new Promise((resolve) => setImmediate(resolve));
      advance(40);
      assert.equal(attempts, 1);
      advance(10);
      const error = await outcome;
      assert.ok(error instanceof TimeoutError, `got ${String(error)}`);
      assert.equal(attempts, 1, 'the sleep was cut short: no second attempt');
    } finally {
      restoreClock();
    }
  });

  it('removes the timer and the caller listener it made once the work settles', async () => {
    const caller = new AbortController();
    const policy = compose(timeout(60_000), retry({ attempts: 1 }), bulkhead({ concurrency: 1 }));
    const before = activeTimers();
    const gate = deferred<string>();
    const call = policy.execute((signal) => gate.promise.then((v) => `${v} ${signal.aborted}`), {
      signal: caller.signal,
    });
    assert.equal(activeTimers(), before + 1, 'the work took a signal: its timer is armed');
    assert.equal(abortListeners(caller.signal), 1);
    gate.resolve('done');
    assert.equal(await call, 'done false');
    assert.equal(activeTimers(), before);
    assert.equal(abortListeners(caller.signal), 0);
  });

  it("passes the caller's abort through a deferred signal: queued calls leave the bulkhead with its reason", async () => {
    const caller = new AbortController();
    const limit = bulkhead({ concurrency: 1, queue: 1 });
    const policy = compose(timeout(60_000), limit);
    const gate = deferred();
    const first = policy.execute(() => gate.promise);
    const second = policy.execute(async () => 'never', { signal: caller.signal });
    assert.equal(limit.stats().queued, 1);
    caller.abort('bye');
    await assert.rejects(second, (e) => e === 'bye');
    gate.resolve();
    await first;
    assert.equal(abortListeners(caller.signal), 0);
  });

  it('cuts a wait in the bulkhead queue at the deadline with the TimeoutError', async () => {
    useClock();
    try {
      const limit = bulkhead({ concurrency: 1, queue: 1 });
      const gate = deferred<string>();
      const first = compose(timeout(60_000), limit).execute(() => gate.promise);
      const queued = compose(timeout(50), limit).execute(async () => 'never ran');
      const outcome = queued.catch((e: unknown) => e);
      assert.equal(limit.stats().queued, 1);
      advance(50);
      const error = await outcome;
      assert.ok(error instanceof TimeoutError);
      assert.equal(limit.stats().queued, 0, 'it left the queue');
      gate.resolve('first');
      assert.equal(await first, 'first');
    } finally {
      restoreClock();
    }
  });

  it('hands a policy from outside switchyard a real signal, aborted at the deadline', async () => {
    useClock();
    try {
      let seen: AbortSignal | undefined;
      const foreign = {
        execute<T>(fn: (s: AbortSignal) => T | PromiseLike<T>, options?: { signal?: AbortSignal }) {
          seen = options?.signal;
          return Promise.resolve(fn(options?.signal ?? new AbortController().signal));
        },
      };
      const policy = compose(timeout(50), foreign);
      const call = policy.execute(
        (signal) =>
          new Promise((_, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
          ),
      );
      assert.ok(seen instanceof AbortSignal);
      advance(50);
      await assert.rejects(call, TimeoutError);
    } finally {
      restoreClock();
    }
  });

  it('works through a composed policy nested in another, and nested timeouts keep the nearer deadline', async () => {
    useClock();
    try {
      const inner = compose(retry({ attempts: 1 }), timeout(30));
      const policy = compose(timeout(50), inner);
      const call = policy.execute(
        (signal) =>
          new Promise((_, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
          ),
      );
      const outcome = call.catch((e: unknown) => e);
      advance(30);
      const error = await outcome;
      assert.ok(error instanceof TimeoutError);
      assert.equal(error.ms, 30, 'the inner, nearer deadline fired');
    } finally {
      restoreClock();
    }
  });
});
