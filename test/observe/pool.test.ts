import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from '../../src/observe/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { failOnUnhandledRejections } from '../support/helpers.ts';
import { parsePrometheus, sampleValue } from './parse.ts';

failOnUnhandledRejections();

const tasks = new URL('../pool/fixtures/tasks.ts', import.meta.url);

describe('a pool given a metrics registry', () => {
  it('records each task by outcome and exports its workers, in-flight and queued counts', async () => {
    const metrics = new Metrics();
    await using pool = new ThreadPool({ maxThreads: 1, minThreads: 1, metrics, name: 'parse' });
    assert.equal(await pool.run(tasks, 'addOne', [1]), 2);
    await assert.rejects(pool.run(tasks, 'fail', ['boom']), /boom/);
    const { samples } = parsePrometheus(await metrics.prometheus());
    const value = (name: string, labels: Record<string, string>) =>
      sampleValue(samples, name, labels);
    assert.equal(value('switchyard_tasks_total', { component: 'parse', outcome: 'ok' }), 1);
    assert.equal(value('switchyard_tasks_total', { component: 'parse', outcome: 'error' }), 1);
    assert.equal(value('switchyard_task_duration_seconds_count', { component: 'parse' }), 2);
    assert.equal(value('switchyard_inflight', { component: 'parse' }), 0);
    assert.equal(value('switchyard_queue_depth', { component: 'parse' }), 0);
    assert.equal(value('switchyard_pool_threads', { component: 'parse', state: 'idle' }), 1);
    assert.equal(value('switchyard_pool_threads', { component: 'parse', state: 'busy' }), 0);
  });
});
