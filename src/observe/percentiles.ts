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
 * The HDR layout of 3 significant digits from 1 µs: buckets of 1024 sub-buckets (bucket 0 has
 * 2048), each bucket twice as wide as the one before. `indexOf` is hdr-histogram-js's
 * `countsArrayIndex` for that layout, done with `Math.clz32` and shifts instead of its
 * `Math.log2`/`Math.pow` per value; every value here is an integer below 2³².
 */
const HALF_BITS = 10;
const SUB_HALF = 1 << HALF_BITS;
/** Pending values folded into the library's histogram at the latest after this many records. */
const FLUSH_AT = 65_536;

function indexOf(us: number): number {
  const bucket = Math.max(0, 31 - HALF_BITS - Math.clz32(us));
  return (bucket << HALF_BITS) + (us >>> bucket);
}

/** The lowest value of the sub-bucket at `index` (the library's `valueFromIndex`). */
function lowestValueAt(index: number): number {
  let bucket = (index >> HALF_BITS) - 1;
  let sub = (index & (SUB_HALF - 1)) + SUB_HALF;
  if (bucket < 0) {
    sub -= SUB_HALF;
    bucket = 0;
  }
  return sub * 2 ** bucket;
}

/**
 * A latency histogram on hdr-histogram-js: 3 significant digits (0.1% relative error) from 1 µs
 * to one hour, O(1) per record. Values are recorded in microseconds and reported in seconds.
 *
 * A record only bumps a pending count per HDR sub-bucket (a typed array, ~94 KB, next to the
 * library's own); the pending counts are folded into the library's histogram — one
 * `recordValueWithCount` per distinct sub-bucket — when figures are read, or after `FLUSH_AT`
 * records. The library's `recordValue` costs several `Math.pow`/`Math.log2` calls per value, and
 * the pipeline and metrics record a few durations per item. The figures read are the same as
 * recording each value directly: same sub-bucket counts, and the exact max and min.
 */
export class DurationHistogram {
  #histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 32,
    useWebAssembly: false,
  });
  readonly #pending = new Uint32Array(indexOf(HIGHEST_US) + 1);
  /** Sub-bucket indexes with a pending count, each once. */
  #touched: number[] = [];
  #pendingCount = 0;
  #pendingMax = -1;
  #pendingMin = Number.POSITIVE_INFINITY;

  /** Records one duration given in seconds (negative and NaN count as 0). */
  recordSeconds(seconds: number): void {
    const us = seconds > 0 ? Math.min(Math.round(seconds * 1e6), HIGHEST_US) : 0;
    const pending = this.#pending;
    const index = indexOf(us);
    if (pending[index]++ === 0) this.#touched.push(index);
    if (us > this.#pendingMax) this.#pendingMax = us;
    if (us !== 0 && us < this.#pendingMin) this.#pendingMin = us;
    if (++this.#pendingCount >= FLUSH_AT) this.#flush();
  }

  /** Records one duration given in milliseconds. */
  recordMs(ms: number): void {
    this.recordSeconds(ms / 1000);
  }

  get count(): number {
    return this.#histogram.totalCount + this.#pendingCount;
  }

  reset(): void {
    this.#drop();
    this.#histogram.reset();
  }

  stats(): DurationStats {
    this.#flush();
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

  /** Folds the pending counts into the library's histogram. */
  #flush(): void {
    const pending = this.#pending;
    if (this.#pendingCount === 0) return;
    const h = this.#histogram;
    // The extremes are recorded as themselves, so max and min stay exact (not a sub-bucket's
    // lowest value); the rest of their sub-buckets' counts go in with the others below.
    const max = this.#pendingMax;
    pending[indexOf(max)]!--;
    h.recordValue(max);
    const min = this.#pendingMin;
    if (min !== Number.POSITIVE_INFINITY && min !== max && pending[indexOf(min)]! > 0) {
      pending[indexOf(min)]!--;
      h.recordValue(min);
    }
    for (const index of this.#touched) {
      const n = pending[index]!;
      if (n > 0) h.recordValueWithCount(lowestValueAt(index), n);
    }
    this.#drop();
  }

  #drop(): void {
    const pending = this.#pending;
    for (const index of this.#touched) pending[index] = 0;
    this.#touched.length = 0;
    this.#pendingCount = 0;
    this.#pendingMax = -1;
    this.#pendingMin = Number.POSITIVE_INFINITY;
  }
}
