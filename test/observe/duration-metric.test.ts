import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { DEFAULT_DURATION_BUCKETS, Metrics } from '../../src/observe/index.ts';

const NAME = 'switchyard_task_duration_seconds';

/** The exposition lines of the duration histogram, HELP and TYPE included. */
function linesOf(text: string): string[] {
  return text.split('\n').filter((line) => line.includes(NAME));
}

describe('switchyard_task_duration_seconds', () => {
  it('exposes exactly what a prom-client Histogram fed the same observations does', async () => {
    // Values on and around the bucket bounds, zero, and past the last bound (+Inf only).
    const value = fc.oneof(
      fc.constantFrom(0, ...DEFAULT_DURATION_BUCKETS, 61, 1e6),
      fc.double({ min: 0, max: 100, noNaN: true }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('fetch', 'parse', 'store', 'a"b\\c'), value), {
          maxLength: 200,
        }),
        async (observations) => {
          const metrics = new Metrics();
          const registry = new Registry();
          const reference = new Histogram({
            name: NAME,
            help: 'Duration of finished units of work, by component.',
            labelNames: ['component'],
            buckets: [...DEFAULT_DURATION_BUCKETS],
            registers: [registry],
          });
          metrics.component('never-used');
          for (const [component, seconds] of observations) {
            metrics.component(component).recordTask('ok', seconds);
            reference.observe({ component }, seconds);
          }
          assert.deepEqual(linesOf(await metrics.prometheus()), linesOf(await registry.metrics()));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads through the registry as JSON, resets with resetMetrics(), and names bad buckets', async () => {
    const metrics = new Metrics({ buckets: [0.1, 1] });
    metrics.recordTask('w', 'ok', 0.5);
    const json = await metrics.registry.getMetricsAsJSON();
    const duration = json.find((m) => m.name === NAME)!;
    assert.equal(String(duration.type), 'histogram');
    assert.deepEqual(
      duration.values.map((v) => [v.labels.le, v.value]),
      [
        [0.1, 0],
        [1, 1],
        ['+Inf', 1],
        [undefined, 0.5],
        [undefined, 1],
      ],
    );
    // A component that never finished a task has no series, as with prom-client's own.
    metrics.component('idle');
    assert.doesNotMatch(linesOf(await metrics.prometheus()).join('\n'), /component="idle"/);
    metrics.registry.resetMetrics();
    assert.doesNotMatch(await metrics.prometheus(), new RegExp(`${NAME}_count`));
    metrics.recordTask('w', 'ok', 2);
    assert.match(await metrics.prometheus(), new RegExp(`${NAME}_count\\{component="w"\\} 1`));
    assert.throws(
      () => new Metrics({ buckets: [1, 0.5] }),
      /buckets must be finite numbers in increasing order, got \[1, 0.5\]/,
    );
  });
});
