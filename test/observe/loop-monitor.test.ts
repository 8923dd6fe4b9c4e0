import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { Metrics, monitorLoop } from '../../src/observe/index.ts';
import { parsePrometheus, sampleValue } from './parse.ts';

function blockTheLoopFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
}

/**
 * Resolves once the monitor's timer has run after now: a timeout of the same period is due
 * later than the monitor's pending tick, and Node runs due timers in order.
 */
function afterNextSample(resolutionMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, resolutionMs + 1));
}

async function loopSeries(metrics: Metrics) {
  const { samples } = parsePrometheus(await metrics.prometheus());
  return {
    max: sampleValue(samples, 'switchyard_event_loop_delay_seconds', { quantile: '1' }),
    p99: sampleValue(samples, 'switchyard_event_loop_delay_seconds', { quantile: '0.99' }),
    utilization: sampleValue(samples, 'switchyard_event_loop_utilization'),
  };
}

describe('monitorLoop', () => {
  it('sees a 200 ms block of the loop as a 200 ms delay and high utilisation', async () => {
    using monitor = monitorLoop({ resolutionMs: 10 });
    await afterNextSample(10);
    monitor.reset();
    blockTheLoopFor(200);
    await afterNextSample(10);
    const { delay, utilization, windowMs } = monitor.stats();
    // One sample carries the whole block, less the part of a timer period before it began.
    assert.ok(delay.max >= 0.185, `max ${delay.max}`);
    assert.ok(delay.max < 30, `max ${delay.max}`);
    assert.ok(delay.count >= 1);
    assert.ok(windowMs >= 200);
    // 200 ms busy out of a window of about 210 ms.
    assert.ok(utilization > 0.5, `utilization ${utilization}`);
    assert.ok(utilization <= 1);
  });

  it('exports the delay between scrapes, not the scrape (prom-client’s lag gauge misses it)', async () => {
    const metrics = new Metrics();
    using _ = monitorLoop({ metrics, resolutionMs: 10 });
    const theirs = new Registry();
    collectDefaultMetrics({ register: theirs });

    await afterNextSample(10);
    await loopSeries(metrics); // start a window
    await theirs.metrics();
    // Let prom-client's probe (a setImmediate started by its scrape) finish before the block.
    await afterNextSample(10);
    blockTheLoopFor(250);
    await afterNextSample(10);
    const blocked = await loopSeries(metrics);
    assert.ok(blocked.max! >= 0.235, `max ${blocked.max}`);
    assert.ok(blocked.p99! <= blocked.max!, `p99 ${blocked.p99} > max ${blocked.max}`);
    assert.ok(blocked.utilization! > 0.3, `utilization ${blocked.utilization}`);
    // prom-client measures lag from the scrape on, so a block before the scrape is invisible.
    const lag = sampleValue(
      parsePrometheus(await theirs.metrics()).samples,
      'nodejs_eventloop_lag_seconds',
    );
    assert.ok(lag !== undefined && lag < blocked.max!, `prom-client lag ${lag}`);

    // The next window did not see the block again: each scrape starts a new one.
    await afterNextSample(10);
    const next = await loopSeries(metrics);
    assert.ok(next.max! < blocked.max!, `next max ${next.max}`);
  });

  it('appears in metrics.snapshot() while running, and detaches on stop()', async () => {
    const metrics = new Metrics();
    const monitor = monitorLoop({ metrics });
    assert.equal(monitor.running, true);
    await afterNextSample(monitor.resolutionMs);
    const loop = metrics.snapshot().loop;
    assert.ok(loop !== undefined && loop.delay.count >= 1);
    assert.throws(() => monitorLoop({ metrics }), /already have a loop monitor/);
    monitor.stop();
    monitor.stop();
    assert.equal(monitor.running, false);
    assert.equal(metrics.snapshot().loop, undefined);
    assert.equal((await loopSeries(metrics)).max, undefined);
    // Free again once stopped.
    monitorLoop({ metrics }).close();
  });

  it('validation errors name the option', () => {
    assert.throws(() => monitorLoop({ resolutionMs: 0 }), /resolutionMs must be >= 1/);
    assert.throws(
      () => monitorLoop({ resolutionMs: 'fast' as never }),
      /resolutionMs must be a number/,
    );
  });
});
