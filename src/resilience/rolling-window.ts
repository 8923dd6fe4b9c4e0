import type { Clock } from './clock.ts';

/**
 * Success/failure counts over the last `windowMs`, in `buckets` slices (a slice expires whole,
 * so the window is accurate to `windowMs / buckets`). O(buckets) memory whatever the traffic.
 * Internal.
 */
export class RollingWindow {
  readonly #clock: Clock;
  readonly #sliceMs: number;
  readonly #starts: number[];
  readonly #good: number[];
  readonly #bad: number[];
  #current = 0;

  constructor(clock: Clock, windowMs: number, buckets = 10) {
    this.#clock = clock;
    this.#sliceMs = Math.max(windowMs / buckets, Number.MIN_VALUE);
    this.#starts = new Array<number>(buckets).fill(Number.NEGATIVE_INFINITY);
    this.#good = new Array<number>(buckets).fill(0);
    this.#bad = new Array<number>(buckets).fill(0);
  }

  add(good: number, bad: number): void {
    const i = this.#slice();
    this.#good[i]! += good;
    this.#bad[i]! += bad;
  }

  /** `[good, bad]` within the window. */
  totals(): [number, number] {
    const now = this.#clock.now();
    const span = this.#sliceMs * this.#starts.length;
    let good = 0;
    let bad = 0;
    for (let i = 0; i < this.#starts.length; i++) {
      if (now - this.#starts[i]! < span) {
        good += this.#good[i]!;
        bad += this.#bad[i]!;
      }
    }
    return [good, bad];
  }

  reset(): void {
    this.#starts.fill(Number.NEGATIVE_INFINITY);
    this.#good.fill(0);
    this.#bad.fill(0);
  }

  #slice(): number {
    const now = this.#clock.now();
    const start = Math.floor(now / this.#sliceMs) * this.#sliceMs;
    let i = this.#current;
    if (this.#starts[i] !== start) {
      i = (i + 1) % this.#starts.length;
      this.#current = i;
      this.#starts[i] = start;
      this.#good[i] = 0;
      this.#bad[i] = 0;
    }
    return i;
  }
}
