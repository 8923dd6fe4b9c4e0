/** Node clamps larger timer delays to 1 ms (with a warning); we refuse them instead. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Checks a duration option. Returns the error to reject with, so async APIs can reject
 * rather than throw synchronously.
 */
export function durationError(
  where: string,
  name: string,
  value: unknown,
  { allowInfinity = false } = {},
): RangeError | TypeError | undefined {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    return new TypeError(
      `${where}: ${name} must be a number of milliseconds, got ${String(value)}`,
    );
  }
  if (value < 0) return new RangeError(`${where}: ${name} must be >= 0, got ${value}`);
  if (value === Number.POSITIVE_INFINITY) {
    return allowInfinity
      ? undefined
      : new RangeError(`${where}: ${name} must be finite, got Infinity`);
  }
  if (value > MAX_TIMER_MS) {
    return new RangeError(
      `${where}: ${name} must be at most ${MAX_TIMER_MS} ms (about 24.8 days)${allowInfinity ? ', or Infinity for none' : ''}, got ${value}`,
    );
  }
  return undefined;
}

/** Throws what `durationError` finds; for constructors and other synchronous validation. */
export function checkDuration(
  where: string,
  name: string,
  value: unknown,
  options?: { allowInfinity?: boolean },
): number {
  const error = durationError(where, name, value, options);
  if (error) throw error;
  return value as number;
}

/** A signal option must be an AbortSignal or absent; anything else is a bug worth naming. */
export function signalError(where: string, signal: unknown): TypeError | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return undefined;
  return new TypeError(`${where}: signal must be an AbortSignal, got ${typeof signal}`);
}

/** The options of every wait that nothing else configures. */
export interface SignalOptions {
  /**
   * Aborting it cancels the wait: the call rejects with `signal.reason` and leaves things as if
   * the wait had never happened.
   */
  signal?: AbortSignal | undefined;
}
