import { checkNumber } from './internal.ts';

/**
 * A backoff strategy: the delay before retry number `attempt` (1 for the first retry). It must
 * return a finite number >= 0 for every attempt.
 */
export interface Backoff {
  delayMs(attempt: number): number;
}

export type Jitter = 'full' | 'equal' | 'none';

export interface ExponentialOptions {
  /** The delay before the first retry, before jitter. Default 100. */
  initialMs?: number;
  /** The cap on every delay. Default 30,000. */
  maxMs?: number;
  /** The growth per attempt. Default 2. */
  factor?: number;
  /**
   * 'full' (default): uniform in [0, d]; 'equal': uniform in [d/2, d]; 'none': d — where d is
   * `min(maxMs, initialMs × factor^(attempt-1))`. Full jitter spreads a crowd of clients that
   * failed together, which is what stops a synchronised retry storm (AWS architecture blog,
   * "Exponential Backoff And Jitter").
   */
  jitter?: Jitter;
  /** The source of randomness in [0, 1). Default `Math.random`; inject one for tests. */
  random?: () => number;
}

/**
 * Exponential backoff with jitter, capped at `maxMs`. Never overflows: past the cap the
 * exponent is not even computed, so attempt 10,000 (or 2^53) still gives a delay in
 * [0, maxMs], never Infinity or NaN.
 */
export function exponential(options: ExponentialOptions = {}): Backoff {
  const where = 'exponential';
  const initialMs = checkNumber(where, 'initialMs', options.initialMs ?? 100, { max: 2 ** 31 - 1 });
  const maxMs = checkNumber(where, 'maxMs', options.maxMs ?? 30_000, { max: 2 ** 31 - 1 });
  const factor = checkNumber(where, 'factor', options.factor ?? 2, { min: 1, max: 1e6 });
  const jitter = options.jitter ?? 'full';
  if (jitter !== 'full' && jitter !== 'equal' && jitter !== 'none') {
    throw new TypeError(
      `${where}: jitter must be 'full', 'equal' or 'none', got ${String(jitter)}`,
    );
  }
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') {
    throw new TypeError(`${where}: random must be a function, got ${typeof random}`);
  }
  if (initialMs > maxMs) {
    throw new RangeError(`${where}: initialMs (${initialMs}) must be <= maxMs (${maxMs})`);
  }
  return {
    delayMs(attempt: number): number {
      const n = Number.isFinite(attempt) && attempt >= 1 ? Math.floor(attempt) : 1;
      // factor^(n-1) only while it can stay under the cap; log avoids the overflow.
      let base: number;
      if (initialMs === 0) base = 0;
      else if (factor === 1) base = initialMs;
      else if (n - 1 >= Math.log(maxMs / initialMs) / Math.log(factor)) base = maxMs;
      else base = Math.min(maxMs, initialMs * factor ** (n - 1));
      if (jitter === 'none') return base;
      const r = clampUnit(random());
      return jitter === 'full' ? r * base : base / 2 + (r * base) / 2;
    },
  };
}

/** The same delay every time. */
export function constant(ms: number): Backoff {
  const delay = checkNumber('constant', 'ms', ms, { max: 2 ** 31 - 1 });
  return { delayMs: () => delay };
}

/** A random source outside [0, 1) (or NaN) must not push a delay out of its bounds. */
function clampUnit(r: number): number {
  return r >= 0 && r < 1 ? r : r >= 1 ? 1 : 0;
}
