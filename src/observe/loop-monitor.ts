import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { checkDuration } from '../cancel/options.ts';
import type { LoopSource, LoopStats, Metrics } from './metrics.ts';
import { DurationHistogram } from './percentiles.ts';

export interface MonitorLoopOptions {
  /**
   * How often the loop is sampled, milliseconds (default 10). Each sample is one timer callback;
   * smaller catches shorter stalls and costs more wake-ups.
   */
  resolutionMs?: number | undefined;
  /**
   * Report into these metrics as `switchyard_event_loop_delay_seconds{quantile}` and
   * `switchyard_event_loop_utilization` (window: since the previous scrape), and into
   * `metrics.snapshot().loop` (window: since the monitor started or was reset).
   */
  metrics?: Metrics | undefined;
}

/**
 * Measures the event loop continuously: a timer every `resolutionMs` records how late it ran
 * (the loop's delay) into HDR histograms, and `performance.eventLoopUtilization()` gives the
 * busy share. Unlike a lag probe started at scrape time (prom-client's
 * `nodejs_eventloop_lag_seconds`), it sees a stall that happened between scrapes, and not the
 * scrape itself.
 *
 * Why not `perf_hooks.monitorEventLoopDelay()`: its `reset()` drops the next sample, so a stall
 * that starts right after a reset (a scrape) goes unseen, and it records the timer interval
 * rather than the delay. A JS timer costs a few microseconds per sample (measured in
 * bench/observe).
 */
export class LoopMonitor implements Disposable {
  readonly resolutionMs: number;
  readonly #total = new DurationHistogram();
  readonly #window = new DurationHistogram();
  #totalElu: EventLoopUtilization;
  #windowElu: EventLoopUtilization;
  #totalStart: number;
  #last: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #detach: (() => void) | undefined;

  constructor(options: MonitorLoopOptions = {}) {
    const { resolutionMs = 10, metrics } = options;
    checkDuration('monitorLoop', 'resolutionMs', resolutionMs);
    if (resolutionMs < 1) {
      throw new RangeError(`monitorLoop: resolutionMs must be >= 1, got ${resolutionMs}`);
    }
    this.resolutionMs = resolutionMs;
    const now = performance.now();
    this.#last = now;
    this.#totalStart = now;
    this.#totalElu = this.#windowElu = performance.eventLoopUtilization();
    const source: LoopSource = {
      scrape: () => {
        const stats = this.#windowStats();
        this.#window.reset();
        this.#windowElu = performance.eventLoopUtilization();
        return stats;
      },
      stats: () => this.stats(),
    };
    this.#detach = metrics?.attachLoop(source);
    this.#timer = setInterval(() => this.#sample(), resolutionMs);
    this.#timer.unref();
  }

  #sample(): void {
    const now = performance.now();
    const delayMs = now - this.#last - this.resolutionMs;
    this.#last = now;
    const ms = Math.max(delayMs, 0);
    this.#total.recordMs(ms);
    this.#window.recordMs(ms);
  }

  #windowStats(): { delay: LoopStats['delay']; utilization: number } {
    return {
      delay: this.#window.stats(),
      utilization: performance.eventLoopUtilization(this.#windowElu).utilization,
    };
  }

  /** Whether the monitor is sampling (until `stop()`). */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Delay percentiles (seconds) and utilisation since the monitor started or was reset. A stall
   * appears once it has ended (the sample is taken when the loop runs again), as one sample of
   * its full length: look at `max` and the high percentiles.
   */
  stats(): LoopStats {
    return {
      delay: this.#total.stats(),
      utilization: performance.eventLoopUtilization(this.#totalElu).utilization,
      windowMs: performance.now() - this.#totalStart,
    };
  }

  /** Starts a new `stats()` window (the Prometheus scrape window is separate). */
  reset(): void {
    this.#total.reset();
    this.#totalElu = performance.eventLoopUtilization();
    this.#totalStart = performance.now();
  }

  /** Stops sampling and detaches from the metrics. Idempotent. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#detach?.();
    this.#detach = undefined;
  }

  close(): void {
    this.stop();
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}

/** Starts a `LoopMonitor`; the timer is unref'd, so it never keeps the process alive. */
export function monitorLoop(options?: MonitorLoopOptions): LoopMonitor {
  return new LoopMonitor(options);
}
