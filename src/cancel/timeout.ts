import { TimeoutError } from './errors.ts';
import { isAbortOf, onAbort } from './on-abort.ts';
import { durationError, signalError } from './options.ts';
import type { ExecuteOptions, Policy } from './policy.ts';

export interface TimeoutOptions {
  /** The caller's own signal: aborting it aborts the inner signal with the same reason. */
  signal?: AbortSignal | undefined;
}

type Work<T> = (signal: AbortSignal) => T | PromiseLike<T>;

const noop = () => {};

/**
 * The single mechanism behind timeout, deadline and moveOnAfter: a child signal that aborts
 * with a TimeoutError when the time runs out, or with the parent's reason when it aborts.
 *
 * Structured, like trio's cancel scopes and asyncio.timeout: it settles when `fn` settles.
 * If `fn` rejects because of the timer's abort, the rejection becomes the TimeoutError; if
 * `fn` resolves anyway (it ignored the signal), its value stands.
 */
async function runWithin<T>(
  where: string,
  ms: number,
  fn: Work<T>,
  parent: AbortSignal | undefined,
  makeError: () => TimeoutError,
  onTimeout: 'reject' | 'resolve',
): Promise<T | undefined> {
  const invalid =
    durationError(where, 'ms', ms, { allowInfinity: true }) ??
    signalError(where, parent) ??
    (typeof fn === 'function' ? undefined : new TypeError(`${where}: fn must be a function`));
  if (invalid) throw invalid;
  if (parent?.aborted) throw parent.reason;
  if (ms <= 0) {
    if (onTimeout === 'resolve') return undefined;
    throw makeError();
  }

  const controller = new AbortController();
  let expired: TimeoutError | undefined;
  const timer =
    ms === Number.POSITIVE_INFINITY
      ? undefined
      : setTimeout(() => {
          // A parent abort that landed first keeps its reason: the timer is then moot.
          if (controller.signal.aborted) return;
          expired = makeError();
          controller.abort(expired);
        }, ms);
  const unsubscribe = parent ? onAbort(parent, (reason) => controller.abort(reason)) : noop;
  try {
    return await fn(controller.signal);
  } catch (error) {
    if (expired !== undefined && isAbortOf(error, controller.signal)) {
      if (onTimeout === 'resolve') return undefined;
      throw expired;
    }
    throw error;
  } finally {
    clearTimeout(timer);
    unsubscribe();
  }
}

function runTimeout<T>(ms: number, fn: Work<T>, signal: AbortSignal | undefined): Promise<T> {
  return runWithin('timeout', ms, fn, signal, () => new TimeoutError(ms), 'reject') as Promise<T>;
}

/** `timeout(ms)` as a policy for `compose()`: each `execute` gets its own `ms` budget. */
export class TimeoutPolicy implements Policy {
  readonly ms: number;

  constructor(ms: number) {
    const invalid = durationError('timeout', 'ms', ms, { allowInfinity: true });
    if (invalid) throw invalid;
    this.ms = ms;
  }

  execute<T>(fn: Work<T>, options: ExecuteOptions = {}): Promise<T> {
    return runTimeout(this.ms, fn, options.signal);
  }
}

/**
 * Runs `fn(signal)`; after `ms` milliseconds aborts `signal` with a `TimeoutError` and, if `fn`
 * rejects because of it, rejects with that `TimeoutError`. Without `fn`, returns the same
 * timeout as a policy.
 *
 * @example
 * const page = await timeout(5_000, (signal) => fetch(url, { signal }));
 */
export function timeout(ms: number): TimeoutPolicy;
export function timeout<T>(ms: number, fn: Work<T>, options?: TimeoutOptions): Promise<T>;
export function timeout<T>(
  ms: number,
  fn?: Work<T>,
  options: TimeoutOptions = {},
): Promise<T> | TimeoutPolicy {
  if (fn === undefined) return new TimeoutPolicy(ms);
  return runTimeout(ms, fn, options.signal);
}

/** `timeout` with an absolute time: `at` is a `Date.now()` timestamp (or a Date). */
export function deadline<T>(
  at: number | Date,
  fn: Work<T>,
  options: TimeoutOptions = {},
): Promise<T> {
  const epochMs = at instanceof Date ? at.getTime() : at;
  if (typeof epochMs !== 'number' || Number.isNaN(epochMs)) {
    return Promise.reject(
      new TypeError(`deadline: at must be a Date.now() timestamp or a Date, got ${String(at)}`),
    );
  }
  const ms = Math.max(0, epochMs - Date.now());
  const makeError = () =>
    new TimeoutError(
      ms,
      `deadline passed (${Number.isFinite(epochMs) ? new Date(epochMs).toISOString() : epochMs})`,
    );
  return runWithin('deadline', ms, fn, options.signal, makeError, 'reject') as Promise<T>;
}

/**
 * trio's `move_on_after`: like `timeout`, but running out of time resolves `undefined`
 * instead of rejecting. Any other failure, and a parent abort, still reject.
 */
export function moveOnAfter<T>(
  ms: number,
  fn: Work<T>,
  options: TimeoutOptions = {},
): Promise<T | undefined> {
  return runWithin('moveOnAfter', ms, fn, options.signal, () => new TimeoutError(ms), 'resolve');
}
