import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { register as globalRegistry, Registry } from 'prom-client';
import { CancelledError, outcomeOf, TimeoutError } from '../../src/cancel/index.ts';
import { instrumentQueue, instrumentSemaphore, Metrics } from '../../src/observe/index.ts';
import { Queue } from '../../src/queue/index.ts';
import { Semaphore } from '../../src/sync/index.ts';
import { parsePrometheus, sampleValue } from './parse.ts';

async function scrape(metrics: Metrics) {
  return parsePrometheus(await metrics.prometheus()).samples;
}

describe('Metrics', () => {
  it('counts tasks by component and outcome and exports them as switchyard_tasks_total', async () => {
    const metrics = new Metrics();
    metrics.recordTask('fetch', 'ok', 0.01);
    metrics.recordTask('fetch', 'ok', 0.02);
    metrics.recordTask('fetch', 'timeout', 5);
    const parse = metrics.component('parse');
    parse.recordTask('error', 0.001);
    parse.recordTask('cancelled', 0.002);

    const { samples, types } = parsePrometheus(await metrics.prometheus());
    assert.equal(types.get('switchyard_tasks_total'), 'counter');
    assert.equal(types.get('switchyard_task_duration_seconds'), 'histogram');
    const total = (component: string, outcome: string) =>
      sampleValue(samples, 'switchyard_tasks_total', { component, outcome });
    assert.equal(total('fetch', 'ok'), 2);
    assert.equal(total('fetch', 'timeout'), 1);
    assert.equal(total('fetch', 'error'), 0);
    assert.equal(total('parse', 'error'), 1);
    assert.equal(total('parse', 'cancelled'), 1);
    assert.equal(
      sampleValue(samples, 'switchyard_task_duration_seconds_count', { component: 'fetch' }),
      3,
    );
    assert.equal(
      sampleValue(samples, 'switchyard_task_duration_seconds_bucket', {
        component: 'fetch',
        le: '0.025',
      }),
      2,
    );
    assert.ok(
      Math.abs(
        sampleValue(samples, 'switchyard_task_duration_seconds_sum', { component: 'fetch' })! -
          5.03,
      ) < 1e-9,
    );
    // Scraping twice does not double the counters (they are copied, not added, at collect).
    assert.equal(
      sampleValue(await scrape(metrics), 'switchyard_tasks_total', {
        component: 'fetch',
        outcome: 'ok',
      }),
      2,
    );
  });

  it('computes p50/p95/p99 from an HDR histogram to within 0.1%', () => {
    const metrics = new Metrics();
    const c = metrics.component('work');
    // 1 ms … 1000 ms, shuffled: the exact percentiles are 500, 950 and 990 ms.
    const values = Array.from({ length: 1000 }, (_, i) => (i + 1) / 1000);
    for (let i = values.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1);
      [values[i], values[j]] = [values[j]!, values[i]!];
    }
    for (const v of values) c.recordTask('ok', v);
    const { duration, tasks } = metrics.snapshot().components.work!;
    assert.equal(duration.count, 1000);
    assert.equal(tasks.total, 1000);
    for (const [got, want] of [
      [duration.p50, 0.5],
      [duration.p95, 0.95],
      [duration.p99, 0.99],
      [duration.max, 1],
      [duration.mean, 0.5005],
    ] as const) {
      assert.ok(Math.abs(got - want) / want <= 0.001, `got ${got}, want ${want}`);
    }
  });

  it('exports gauges and retries as they were last set, and the snapshot agrees', async () => {
    const metrics = new Metrics();
    metrics.setInflight('pool', 3);
    metrics.setQueueDepth('pool', 7);
    metrics.setPoolThreads('pool', 'busy', 3);
    metrics.setPoolThreads('pool', 'idle', 1);
    metrics.incRetries('http');
    metrics.incRetries('http', 2);
    metrics.setBreakerState('http', 'open');
    metrics.setBreakerState('db', 'half-open');
    const samples = await scrape(metrics);
    assert.equal(sampleValue(samples, 'switchyard_inflight', { component: 'pool' }), 3);
    assert.equal(sampleValue(samples, 'switchyard_queue_depth', { component: 'pool' }), 7);
    assert.equal(
      sampleValue(samples, 'switchyard_pool_threads', { component: 'pool', state: 'busy' }),
      3,
    );
    assert.equal(
      sampleValue(samples, 'switchyard_pool_threads', { component: 'pool', state: 'idle' }),
      1,
    );
    assert.equal(sampleValue(samples, 'switchyard_retries_total', { component: 'http' }), 3);
    assert.equal(sampleValue(samples, 'switchyard_breaker_state', { component: 'http' }), 2);
    assert.equal(sampleValue(samples, 'switchyard_breaker_state', { component: 'db' }), 1);
    // A component that never set a gauge has no sample for it.
    assert.equal(sampleValue(samples, 'switchyard_inflight', { component: 'http' }), undefined);

    const snap = metrics.snapshot();
    assert.ok(Math.abs(snap.at - Date.now()) < 60_000);
    assert.deepEqual(snap.components.pool, {
      tasks: { ok: 0, error: 0, timeout: 0, cancelled: 0, total: 0 },
      duration: { count: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 },
      retries: 0,
      inflight: 3,
      queueDepth: 7,
      poolThreads: { busy: 3, idle: 1 },
    });
    assert.equal(snap.components.http!.breakerState, 'open');
    assert.equal(snap.components.http!.retries, 3);
    assert.equal(snap.loop, undefined);
  });

  it('uses its own registry, or the one passed in, and never prom-client’s global one', async () => {
    const before = (await globalRegistry.getMetricsAsJSON()).length;
    const own = new Metrics();
    own.recordTask('x', 'ok', 1);
    assert.equal((await globalRegistry.getMetricsAsJSON()).length, before);
    assert.notEqual(own.registry, globalRegistry);

    const registry = new Registry();
    const shared = new Metrics({ registry });
    assert.equal(shared.registry, registry);
    shared.recordTask('x', 'ok', 1);
    assert.match(
      await registry.metrics(),
      /switchyard_tasks_total\{component="x",outcome="ok"\} 1/,
    );
    assert.match(shared.contentType, /^text\/plain/);
  });

  it('validation errors name the option', () => {
    const metrics = new Metrics();
    assert.throws(
      () => metrics.recordTask('a', 'failed' as never, 1),
      /outcome must be one of ok, error, timeout, cancelled/,
    );
    assert.throws(() => metrics.recordTask('a', 'ok', -1), /seconds must be >= 0/);
    assert.throws(
      () => metrics.recordTask('a', 'ok', Number.NaN),
      /seconds must be a finite number/,
    );
    assert.throws(() => metrics.recordTask('', 'ok', 1), /component must be a non-empty string/);
    assert.throws(() => metrics.setInflight('a', -1), /count must be >= 0/);
    assert.throws(
      () => metrics.setPoolThreads('a', 'sleeping' as never, 1),
      /state must be one of busy, idle/,
    );
    assert.throws(
      () => metrics.setBreakerState('a', 'broken' as never),
      /state must be closed, half-open or open/,
    );
    assert.throws(
      () => new Metrics({ registry: {} as never }),
      /registry must be a prom-client Registry/,
    );
    // Nothing was recorded by the failed calls.
    assert.equal(metrics.snapshot().components.a?.tasks.total ?? 0, 0);
  });
});

describe('outcomeOf', () => {
  it('classifies success, timeouts, cancellations and errors', () => {
    assert.equal(outcomeOf(), 'ok');
    assert.equal(outcomeOf(new TimeoutError(5)), 'timeout');
    assert.equal(outcomeOf(new CancelledError()), 'cancelled');
    assert.equal(outcomeOf(new DOMException('gone', 'AbortError')), 'cancelled');
    const controller = new AbortController();
    const reason = new Error('shutdown');
    controller.abort(reason);
    assert.equal(outcomeOf(reason, controller.signal), 'cancelled');
    assert.equal(outcomeOf(new Error('boom'), controller.signal), 'error');
    assert.equal(outcomeOf(new Error('boom')), 'error');
  });
});

describe('instrumentQueue / instrumentSemaphore', () => {
  it('reads a queue’s stats() at scrape time, and stops when closed', async () => {
    const metrics = new Metrics();
    const queue = new Queue<number>({ maxsize: 10 });
    const handle = instrumentQueue(queue, metrics, { name: 'jobs' });
    for (let i = 0; i < 4; i++) queue.putNowait(i);
    queue.getNowait(); // taken, not yet taskDone(): in flight
    let samples = await scrape(metrics);
    assert.equal(sampleValue(samples, 'switchyard_queue_depth', { component: 'jobs' }), 3);
    assert.equal(sampleValue(samples, 'switchyard_inflight', { component: 'jobs' }), 1);
    queue.taskDone();
    queue.getNowait();
    assert.equal(metrics.snapshot().components.jobs!.queueDepth, 2);

    assert.throws(
      () => instrumentQueue(queue, metrics, { name: 'jobs' }),
      /already reports a live object/,
    );
    handle.close();
    samples = await scrape(metrics);
    assert.equal(sampleValue(samples, 'switchyard_queue_depth', { component: 'jobs' }), undefined);
    // Closed, the name is free again.
    using again = instrumentQueue(queue, metrics, { name: 'jobs' });
    assert.equal(again.name, 'jobs');
  });

  it('reads a semaphore: permits held are in flight, waiters are the queue', async () => {
    const metrics = new Metrics();
    const sem = new Semaphore(2);
    using _ = instrumentSemaphore(sem, metrics, { name: 'db' });
    const a = await sem.acquire();
    await sem.acquire();
    const waiter = sem.acquire();
    const samples = await scrape(metrics);
    assert.equal(sampleValue(samples, 'switchyard_inflight', { component: 'db' }), 2);
    assert.equal(sampleValue(samples, 'switchyard_queue_depth', { component: 'db' }), 1);
    a.release();
    await waiter;
    assert.deepEqual(
      {
        inflight: metrics.snapshot().components.db!.inflight,
        queueDepth: metrics.snapshot().components.db!.queueDepth,
      },
      { inflight: 2, queueDepth: 0 },
    );
  });

  it('rejects what it cannot read, naming the option', () => {
    const metrics = new Metrics();
    assert.throws(
      () => instrumentQueue({} as never, metrics, { name: 'q' }),
      /must have a stats\(\) method/,
    );
    assert.throws(
      () => instrumentQueue(new Queue(), metrics, { name: '' }),
      /name must be a non-empty string/,
    );
  });
});
