import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimeoutError, timeout } from '../../src/cancel/index.ts';
import { Metrics } from '../../src/observe/index.ts';
import {
  bulkhead,
  circuitBreaker,
  compose,
  constant,
  retry,
  TestClock,
} from '../../src/resilience/index.ts';
import { deferred, failOnUnhandledRejections } from '../support/helpers.ts';
import { parsePrometheus, sampleValue } from './parse.ts';

failOnUnhandledRejections();

async function series(metrics: Metrics) {
  const { samples } = parsePrometheus(await metrics.prometheus());
  return (name: string, labels: Record<string, string>) => sampleValue(samples, name, labels);
}

describe('policies given a metrics registry', () => {
  it('retry records each call by outcome and counts its retries', async () => {
    const metrics = new Metrics();
    const clock = new TestClock();
    const policy = retry({
      attempts: 3,
      backoff: constant(10),
      clock,
      metrics,
      name: 'fetch-retry',
    });
    let calls = 0;
    const call = policy.execute(async () => {
      calls++;
      if (calls < 3) throw new Error('flaky');
      return 'ok';
    });
    await clock.advance(10);
    await clock.advance(10);
    assert.equal(await call, 'ok');
    const failing = assert.rejects(
      policy.execute(async () => {
        throw new TimeoutError(5);
      }),
      TimeoutError,
    );
    await clock.advance(10);
    await clock.advance(10);
    await failing;
    const value = await series(metrics);
    assert.equal(value('switchyard_retries_total', { component: 'fetch-retry' }), 4);
    assert.equal(value('switchyard_tasks_total', { component: 'fetch-retry', outcome: 'ok' }), 1);
    assert.equal(
      value('switchyard_tasks_total', { component: 'fetch-retry', outcome: 'timeout' }),
      1,
    );
    assert.equal(value('switchyard_task_duration_seconds_count', { component: 'fetch-retry' }), 2);
  });

  it('a circuit breaker exports its state as it changes', async () => {
    const metrics = new Metrics();
    const breaker = circuitBreaker({
      failureThreshold: 1,
      halfOpenAfterMs: 1_000,
      metrics,
      name: 'db',
    });
    assert.equal((await series(metrics))('switchyard_breaker_state', { component: 'db' }), 0);
    await breaker.execute(async () => Promise.reject(new Error('down'))).catch(() => {});
    const value = await series(metrics);
    assert.equal(value('switchyard_breaker_state', { component: 'db' }), 2);
    assert.equal(value('switchyard_tasks_total', { component: 'db', outcome: 'error' }), 1);
  });

  it('a bulkhead exports the calls running in it', async () => {
    const metrics = new Metrics();
    const gate = bulkhead({ concurrency: 2, queue: 2, metrics, name: 'io' });
    const release = deferred();
    const running = [gate.execute(() => release.promise), gate.execute(() => release.promise)];
    assert.equal((await series(metrics))('switchyard_inflight', { component: 'io' }), 2);
    release.resolve();
    await Promise.all(running);
    assert.equal((await series(metrics))('switchyard_inflight', { component: 'io' }), 0);
  });

  it('records nothing without a registry, and a composed policy records per layer that has one', async () => {
    const metrics = new Metrics();
    const policy = compose(retry({ attempts: 1, metrics, name: 'outer' }), timeout(1_000));
    assert.equal(await policy.execute(async () => 7), 7);
    const value = await series(metrics);
    assert.equal(value('switchyard_tasks_total', { component: 'outer', outcome: 'ok' }), 1);
    assert.equal(
      value('switchyard_tasks_total', { component: 'timeout', outcome: 'ok' }),
      undefined,
    );
  });
});
