import * as hdr from 'hdr-histogram-js';

/** Percentiles of a set of durations, in seconds. `undefined`-free: empty sets report zeros. */
export interface DurationStats {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** One hour in microseconds: the largest duration recorded exactly; longer ones are clamped. */
const HIGHEST_US = 3_600_000_000;

/**
 * A latency histogram on hdr-histogram-js: 3 significant digits (0.1% relative error) from 1 µs
 * to one hour, in a fixed ~90 KB, O(1) per record. Values are recorded in microseconds and
 * reported in seconds.
 */
export class DurationHistogram {
  #histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 32,
    useWebAssembly: false,
  });

  /** Records one duration given in seconds (negative and NaN count as 0). */
  recordSeconds(seconds: number): void {
    const us = seconds > 0 ? Math.min(Math.round(seconds * 1e6), HIGHEST_US) : 0;
    this.#histogram.recordValue(us);
  }

  /** Records one duration given in milliseconds. */
  recordMs(ms: number): void {
    this.recordSeconds(ms / 1000);
  }

  get count(): number {
    return this.#histogram.totalCount;
  }

  reset(): void {
    this.#histogram.reset();
  }

  stats(): DurationStats {
    const h = this.#histogram;
    if (h.totalCount === 0) return { count: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 };
    // A percentile is reported as the top of its HDR bucket, which can exceed the largest value
    // recorded; clamp so that p50 <= p95 <= p99 <= max always holds.
    const max = h.maxValue;
    const at = (p: number) => Math.min(h.getValueAtPercentile(p), max) / 1e6;
    return {
      count: h.totalCount,
      mean: h.mean / 1e6,
      p50: at(50),
      p95: at(95),
      p99: at(99),
      max: max / 1e6,
    };
  }
}
