import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CircuitOpenError,
  type CircuitState,
  circuitBreaker,
  type StateChangeEvent,
  TestClock,
} from '../../src/resilience/index.ts';
import { deferred, failOnUnhandledRejections } from '../support/helpers.ts';

failOnUnhandledRejections();

const ok = async () => 'ok';
const boom = async () => {
  throw new Error('boom');
};

describe('circuitBreaker', () => {
  it('opens after failureThreshold consecutive failures and rejects without calling fn', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ failureThreshold: 3, halfOpenAfterMs: 1_000, clock });
    await assert.rejects(breaker.execute(boom));
    await assert.rejects(breaker.execute(boom));
    assert.equal(await breaker.execute(ok), 'ok', 'a success resets the count');
    for (let i = 0; i < 3; i++) await assert.rejects(breaker.execute(boom), { message: 'boom' });
    assert.equal(breaker.state, 'open');
    let called = false;
    await clock.advance(400);
    const error = await breaker
      .execute(async () => {
        called = true;
      })
      .catch((e: unknown) => e);
    assert.ok(error instanceof CircuitOpenError);
    assert.equal(error.code, 'ERR_SWITCHYARD_CIRCUIT_OPEN');
    assert.equal(error.retryAfterMs, 600, 'it says when it will try again');
    assert.equal(error.retryAt, 1_000);
    assert.equal(called, false);
  });

  it('goes half-open after halfOpenAfterMs and closes after halfOpenSuccesses probe successes', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({
      failureThreshold: 1,
      halfOpenAfterMs: 1_000,
      halfOpenSuccesses: 2,
      clock,
    });
    const changes: string[] = [];
    breaker.onStateChange(({ from, to }) => changes.push(`${from}→${to}`));
    await assert.rejects(breaker.execute(boom));
    await clock.advance(999);
    assert.equal(breaker.state, 'open');
    await clock.advance(1);
    assert.equal(breaker.state, 'half-open');
    await breaker.execute(ok);
    assert.equal(breaker.state, 'half-open', 'one success is not enough');
    await breaker.execute(ok);
    assert.equal(breaker.state, 'closed');
    assert.deepEqual(changes, ['closed→open', 'open→half-open', 'half-open→closed']);
  });

  it('re-opens on a probe failure and restarts the open period', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ failureThreshold: 1, halfOpenAfterMs: 100, clock });
    await assert.rejects(breaker.execute(boom));
    await clock.advance(100);
    await assert.rejects(breaker.execute(boom), { message: 'boom' });
    assert.equal(breaker.state, 'open');
    const error = await breaker.execute(ok).catch((e: unknown) => e);
    assert.equal((error as CircuitOpenError).retryAfterMs, 100);
  });

  it('admits at most halfOpenMaxCalls probes at once while half-open', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({
      failureThreshold: 1,
      halfOpenAfterMs: 10,
      halfOpenMaxCalls: 2,
      clock,
    });
    await assert.rejects(breaker.execute(boom));
    await clock.advance(10);
    const gates = [deferred<string>(), deferred<string>()];
    const probes = gates.map((g) => breaker.execute(() => g.promise));
    const third = await breaker.execute(ok).catch((e: unknown) => e);
    assert.ok(third instanceof CircuitOpenError);
    assert.equal(third.retryAfterMs, 0);
    assert.match(third.message, /half-open/);
    gates[0]!.resolve('a');
    assert.equal(await probes[0], 'a');
    assert.equal(breaker.state, 'closed', 'halfOpenSuccesses defaults to 1');
    gates[1]!.resolve('b');
    assert.equal(await probes[1], 'b');
    assert.deepEqual(breaker.stats().rejected, 1);
  });

  it('opens in failure-ratio mode only once minimumRequests calls are in the window', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({
      failureRatio: 0.5,
      minimumRequests: 4,
      windowMs: 1_000,
      clock,
    });
    await assert.rejects(breaker.execute(boom));
    await assert.rejects(breaker.execute(boom));
    await assert.rejects(breaker.execute(boom));
    assert.equal(breaker.state, 'closed', '3 calls are below minimumRequests');
    await breaker.execute(ok);
    assert.equal(breaker.state, 'closed', 'the ratio is checked when a failure is recorded');
    await assert.rejects(breaker.execute(boom));
    assert.equal(breaker.state, 'open', '4 of 5 failed');
  });

  it('forgets failures older than the window in failure-ratio mode', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({
      failureRatio: 0.5,
      minimumRequests: 3,
      windowMs: 1_000,
      clock,
    });
    await assert.rejects(breaker.execute(boom));
    await assert.rejects(breaker.execute(boom));
    await clock.advance(1_000);
    await breaker.execute(ok);
    await breaker.execute(ok);
    await assert.rejects(breaker.execute(boom));
    assert.equal(breaker.state, 'closed', '1 of 3 in the window');
  });

  it('counts a success slower than slowCallMs as a failure but still returns its value', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ failureThreshold: 2, slowCallMs: 500, clock });
    const slow = async () => {
      await clock.sleep(500);
      return 'late';
    };
    for (let i = 0; i < 2; i++) {
      const p = breaker.execute(slow);
      await clock.advance(500);
      assert.equal(await p, 'late');
    }
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.stats().slowCalls, 2);
  });

  it('does not let a late success from before the break close the circuit', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ failureThreshold: 1, halfOpenAfterMs: 10, clock });
    const slow = deferred<string>();
    const late = breaker.execute(() => slow.promise);
    await assert.rejects(breaker.execute(boom));
    await clock.advance(10);
    assert.equal(breaker.state, 'half-open');
    slow.resolve('late');
    assert.equal(await late, 'late');
    assert.equal(breaker.state, 'half-open', 'the late success belongs to the closed period');
  });

  it('counts neither way a call the caller aborted, and frees its probe slot', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ failureThreshold: 1, halfOpenAfterMs: 10, clock });
    await assert.rejects(breaker.execute(boom));
    await clock.advance(10);
    const controller = new AbortController();
    const probe = breaker.execute(
      (signal) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { signal: controller.signal },
    );
    controller.abort('caller left');
    await assert.rejects(probe, (e) => e === 'caller left');
    assert.equal(breaker.state, 'half-open');
    assert.equal(await breaker.execute(ok), 'ok');
    assert.equal(breaker.state, 'closed');
  });

  it('ignores errors isFailure does not count', async () => {
    const breaker = circuitBreaker({
      failureThreshold: 1,
      isFailure: (e) => (e as Error).message !== 'not found',
    });
    await assert.rejects(
      breaker.execute(async () => {
        throw new Error('not found');
      }),
    );
    assert.equal(breaker.state, 'closed');
  });

  it('emits onBreak, onHalfOpen and onReset, and a disposed listener hears nothing more', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ failureThreshold: 1, halfOpenAfterMs: 5, clock });
    const heard: string[] = [];
    const sub = breaker.onBreak((e: StateChangeEvent) => heard.push(`break ${e.retryAfterMs}`));
    breaker.onHalfOpen(() => heard.push('half-open'));
    breaker.onReset(() => heard.push('reset'));
    await assert.rejects(breaker.execute(boom));
    await clock.advance(5);
    await breaker.execute(ok);
    sub.dispose();
    await assert.rejects(breaker.execute(boom));
    assert.deepEqual(heard, ['break 5', 'half-open', 'reset']);
  });

  it('can be opened and closed by hand', async () => {
    const breaker = circuitBreaker();
    breaker.open();
    await assert.rejects(breaker.execute(ok), CircuitOpenError);
    breaker.close();
    assert.equal(await breaker.execute(ok), 'ok');
  });

  it('rejects failureThreshold together with failureRatio', () => {
    assert.throws(() => circuitBreaker({ failureThreshold: 2, failureRatio: 0.5 }), /not both/);
    assert.throws(() => circuitBreaker({ failureRatio: 1.5 }), /failureRatio must be <= 1/);
  });

  it('follows a reference model of the state machine for any sequence of calls and clock moves', async () => {
    type Step = { kind: 'ok' } | { kind: 'fail' } | { kind: 'wait'; ms: number };
    const step = fc.oneof(
      fc.constant<Step>({ kind: 'ok' }),
      fc.constant<Step>({ kind: 'fail' }),
      fc.integer({ min: 1, max: 400 }).map<Step>((ms) => ({ kind: 'wait', ms })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(step, { maxLength: 60 }),
        async (threshold, successes, steps) => {
          const clock = new TestClock();
          const halfOpenAfterMs = 300;
          const breaker = circuitBreaker({
            failureThreshold: threshold,
            halfOpenAfterMs,
            halfOpenSuccesses: successes,
            clock,
          });
          // The model: sequential calls, so halfOpenMaxCalls never bites.
          let state: CircuitState = 'closed';
          let failures = 0;
          let probeOk = 0;
          let openedAt = 0;
          for (const s of steps) {
            if (s.kind === 'wait') {
              await clock.advance(s.ms);
              continue;
            }
            if (state === 'open' && clock.now() - openedAt >= halfOpenAfterMs) {
              state = 'half-open';
              probeOk = 0;
            }
            const outcome = await breaker.execute(s.kind === 'ok' ? ok : boom).then(
              () => 'ok',
              (e: unknown) => (e instanceof CircuitOpenError ? 'rejected' : 'failed'),
            );
            if (state === 'open') {
              assert.equal(outcome, 'rejected');
            } else if (s.kind === 'ok') {
              assert.equal(outcome, 'ok');
              if (state === 'half-open') {
                if (++probeOk >= successes) {
                  state = 'closed';
                  failures = 0;
                }
              } else failures = 0;
            } else {
              assert.equal(outcome, 'failed');
              if (state === 'half-open' || ++failures >= threshold) {
                state = 'open';
                openedAt = clock.now();
                failures = 0;
              }
            }
            const due: boolean = state === 'open' && clock.now() - openedAt >= halfOpenAfterMs;
            assert.equal(breaker.state, due ? 'half-open' : state);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
