import type { ComponentSink, MetricsSink } from '../cancel/metrics-sink.ts';
import { outcomeOf } from '../cancel/metrics-sink.ts';
import { DurationHistogram } from '../observe/percentiles.ts';
import type { StageReport } from './types.ts';

/** The running figures of one stage; `report()` snapshots them. */
export class StageStats {
  readonly name: string;
  in = 0;
  ok = 0;
  failed = 0;
  retried = 0;
  inflight = 0;
  readonly errorsByClass = new Map<string, number>();
  readonly #latency = new DurationHistogram();
  readonly #metrics: ComponentSink | undefined;

  constructor(name: string, metrics: MetricsSink | undefined) {
    this.name = name;
    this.#metrics = metrics?.component(name);
  }

  /** `count` items start. */
  started(count: number, queueDepth: number): void {
    this.in += count;
    this.inflight += count;
    const metrics = this.#metrics;
    if (metrics !== undefined) {
      metrics.setInflight(this.inflight);
      metrics.setQueueDepth(queueDepth);
    }
  }

  /** One call (covering `count` items) ended after `ms` and `attempts` calls. */
  finished(count: number, ms: number, attempts: number, error: unknown, failed: boolean): void {
    this.inflight -= count;
    this.#latency.recordMs(ms);
    if (attempts > 1) this.retried += attempts - 1;
    if (failed) {
      this.failed += count;
      const name = errorClass(error);
      this.errorsByClass.set(name, (this.errorsByClass.get(name) ?? 0) + count);
    } else if (error === undefined) {
      this.ok += count;
    }
    const metrics = this.#metrics;
    if (metrics !== undefined) {
      metrics.setInflight(this.inflight);
      metrics.recordTask(outcomeOf(error), ms / 1000);
      if (attempts > 1) metrics.incRetries(attempts - 1);
    }
  }

  report(durationMs: number): StageReport {
    const latency = this.#latency.stats();
    return {
      name: this.name,
      in: this.in,
      ok: this.ok,
      failed: this.failed,
      retried: this.retried,
      inflight: this.inflight,
      p50Ms: latency.p50 * 1000,
      p95Ms: latency.p95 * 1000,
      p99Ms: latency.p99 * 1000,
      throughputPerSec: durationMs > 0 ? (this.ok * 1000) / durationMs : 0,
      errorsByClass: Object.fromEntries(this.errorsByClass),
    };
  }
}

/** The class name reported for an error: its `name` (our classes set it on the prototype). */
export function errorClass(error: unknown): string {
  if (error instanceof Error) return error.name;
  if (error === null) return 'null';
  return typeof error;
}

/** A one-line message for a dead letter. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}
