/**
 * Internals shared by the resilience policies: the signal handed to work when the caller gave
 * none, option validation. Not part of the public API.
 */
import { type ComponentSink, outcomeOf } from '../cancel/metrics-sink.ts';
import { signalError } from '../cancel/options.ts';
import type { Cancellation } from '../cancel/policy.ts';
import type { Clock } from './clock.ts';

/** The work every policy runs: it gets a signal to honour. */
export type Work<T> = (signal: AbortSignal) => T | PromiseLike<T>;

/**
 * What a policy's core runs: the user's work (public `execute`: it only ever gets a real
 * AbortSignal or NEVER) or, inside `compose()`, the next layer (it takes a `Cancellation`).
 */
export type Step<T> = (cancellation: Cancellation) => T | PromiseLike<T>;

/**
 * Handed to work when the caller passed no signal: it never aborts. Policies treat it as "no
 * signal" (no subscription on it), so it costs nothing per call.
 */
export const NEVER: AbortSignal = new AbortController().signal;

/** The caller's signal, or `undefined` for none (and for `NEVER`). */
export function callerSignal(signal: AbortSignal | undefined): AbortSignal | undefined {
  return signal === NEVER ? undefined : signal;
}

/**
 * The error an `execute()` call rejects with before doing anything, or `undefined`: `fn` must
 * be a function, `signal` an AbortSignal; an aborted signal gives its reason.
 */
export function executeError(where: string, fn: unknown, signal: unknown): unknown {
  if (typeof fn !== 'function') {
    return new TypeError(`${where}: fn must be a function, got ${typeof fn}`);
  }
  const bad = signalError(where, signal);
  if (bad) return bad;
  if ((signal as AbortSignal | undefined)?.aborted) return (signal as AbortSignal).reason;
  return undefined;
}

/** Checks a numeric option; throws a RangeError/TypeError naming it. */
export function checkNumber(
  where: string,
  name: string,
  value: unknown,
  { min = 0, max = Number.POSITIVE_INFINITY, integer = false, minExclusive = false } = {},
): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${where}: ${name} must be a number, got ${String(value)}`);
  }
  if (integer && !Number.isInteger(value)) {
    throw new RangeError(`${where}: ${name} must be an integer, got ${value}`);
  }
  if (minExclusive ? value <= min : value < min) {
    throw new RangeError(
      `${where}: ${name} must be ${minExclusive ? '>' : '>='} ${min}, got ${value}`,
    );
  }
  if (value > max) throw new RangeError(`${where}: ${name} must be <= ${max}, got ${value}`);
  return value;
}

export function checkFunction(where: string, name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`${where}: ${name} must be a function, got ${typeof value}`);
  }
}

/** A `retryAfterMs` hint on an error (HTTP 429/503 Retry-After, an open circuit), if valid. */
export function retryAfterHint(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const hint = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof hint === 'number' && hint >= 0 && Number.isFinite(hint) ? hint : undefined;
}

/** Calls a user callback without letting its throw break the policy (like an event listener). */
export function safeCall<A>(callback: (arg: A) => void, arg: A): void {
  try {
    callback(arg);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/**
 * Runs one `execute` and records its outcome and duration into a policy's metrics sink. Only
 * called when the policy was given a `metrics` option.
 */
export function recorded<T>(
  sink: ComponentSink,
  clock: Clock,
  signal: Cancellation,
  run: () => Promise<T>,
): Promise<T> {
  const started = clock.now();
  return run().then(
    (value) => {
      sink.recordTask('ok', (clock.now() - started) / 1000);
      return value;
    },
    (error: unknown) => {
      // outcomeOf reads only `aborted` and `reason`, which a deferred signal answers too.
      sink.recordTask(
        outcomeOf(error, signal as AbortSignal | undefined),
        (clock.now() - started) / 1000,
      );
      throw error;
    },
  );
}
