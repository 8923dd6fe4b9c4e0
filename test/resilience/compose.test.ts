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
