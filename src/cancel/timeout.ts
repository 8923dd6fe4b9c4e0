import { TimeoutError } from './errors.ts';
import { isAbortOf, onAbort } from './on-abort.ts';
import { durationError, signalError } from './options.ts';
import {
  type Cancellation,
  type DeferredSignalLike,
  type ExecuteOptions,
  executeIn,
  type Policy,
  realSignal,
} from './policy.ts';

export interface TimeoutOptions {
  /** The caller's own signal: aborting it aborts the inner signal with the same reason. */
  signal?: AbortSignal | undefined;
}

type Work<T> = (signal: AbortSignal) => T | PromiseLike<T>;

const noop = () => {};

/** Handed to work that declares no parameter: it cannot read a signal, so it gets one that never aborts. */
const NEVER: AbortSignal = new AbortController().signal;

/**
 * The single mechanism behind timeout, deadline and moveOnAfter: a child signal that aborts
 * with a TimeoutError when the time runs out, or with the parent's reason when it aborts.
 *
 * Structured, like trio's cancel scopes and asyncio.timeout: it settles when `fn` settles.
 * If `fn` rejects because of the timer's abort, the rejection becomes the TimeoutError; if
 * `fn` resolves anyway (it ignored the signal), its value stands.
 *
 * A function that declares no parameter (`fn.length === 0`, as `async () => …`) cannot see the
 * signal, so aborting it could change nothing: it runs with no controller, timer or listener
 * at all (the same rule as `TaskGroup.spawn`). On Node 20 a new AbortSignal costs about 2.5 µs.
 */
function runWithin<T>(
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
  if (invalid) return Promise.reject(invalid);
  if (parent?.aborted) return Promise.reject(parent.reason);
  if (ms <= 0) {
    return onTimeout === 'resolve' ? Promise.resolve(undefined) : Promise.reject(makeError());
  }
  if (fn.length === 0) {
    try {
      return Promise.resolve(fn(parent ?? NEVER));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return runWithSignal(ms, fn, parent, makeError, onTimeout);
}

async function runWithSignal<T>(
  ms: number,
  fn: Work<T>,
  parent: AbortSignal | undefined,
  makeError: () => TimeoutError,
  onTimeout: 'reject' | 'resolve',
): Promise<T | undefined> {
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

/**
 * The signal of a `timeout(ms)` layer inside `compose()`, made only when someone
 * reads it. Until then it is a deadline (`performance.now()` + ms) and a parent: `aborted`
 * compares the clock, and nothing is armed. Reading `signal` creates the AbortController, the
 * timer for the time left and the parent listener — exactly what an eager timeout would hold
 * from then on — and `dispose()` (when the layer settles) removes them.
 *
 * Why it is correct: a signal's abort can only change what happens through someone who holds
 * the signal or reads `aborted`. The inner layers read `aborted` (it answers from the clock)
 * and take the real signal before any wait; work that declares a parameter gets the real one.
 * So every observer sees the same as with an eager signal, and on the path where nobody looks
 * (work without a parameter that succeeds at once) no AbortSignal (about 2.5 µs to create on
 * Node 20) and no timer (about 0.4 µs to set and clear) is made at all.
 */
class DeferredSignal implements DeferredSignalLike {
  readonly #ms: number;
  readonly #at: number;
  readonly #parent: Cancellation;
  #controller: AbortController | undefined = undefined;
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;
  #unsubscribe: (() => void) | undefined = undefined;
  /** Set once an abort is seen before the signal exists; the abort's reason. */
  #aborted = false;
  #reason: unknown = undefined;
  /** This timeout's own TimeoutError, once the deadline has passed (and nothing aborted first). */
  #expired: TimeoutError | undefined = undefined;
  #disposed = false;

  constructor(ms: number, parent: Cancellation) {
    this.#ms = ms;
    this.#at = performance.now() + ms;
    this.#parent = parent;
  }

  get aborted(): boolean {
    const controller = this.#controller;
    return controller === undefined ? this.#check() : controller.signal.aborted;
  }

  get reason(): unknown {
    const controller = this.#controller;
    if (controller !== undefined) return controller.signal.reason;
    this.#check();
    return this.#reason;
  }

  get signal(): AbortSignal {
    let controller = this.#controller;
    if (controller !== undefined) return controller.signal;
    controller = new AbortController();
    this.#controller = controller;
    const signal = controller.signal;
    if (this.#check()) {
      controller.abort(this.#reason);
      return signal;
    }
    // Made after its layer settled (nothing of switchyard's does that): no timer to leak.
    if (this.#disposed) return signal;
    const parent = realSignal(this.#parent);
    if (parent !== undefined) this.#unsubscribe = onAbort(parent, (r) => controller.abort(r));
    this.#timer = setTimeout(
      () => {
        // A parent abort that landed first keeps its reason: the timer is then moot.
        if (signal.aborted) return;
        this.#expired = new TimeoutError(this.#ms);
        controller.abort(this.#expired);
      },
      Math.max(1, this.#at - performance.now()),
    );
    return signal;
  }

  /** Whether `error` is the rejection caused by this timeout running out (not the parent's abort). */
  isTimeout(error: unknown): boolean {
    const expired = this.#expired;
    if (expired === undefined) return false;
    const controller = this.#controller;
    return controller === undefined ? error === expired : isAbortOf(error, controller.signal);
  }

  /** The TimeoutError, once `isTimeout` has said so. */
  get expired(): TimeoutError | undefined {
    return this.#expired;
  }

  isAbortOf(error: unknown): boolean {
    const controller = this.#controller;
    if (controller !== undefined) return isAbortOf(error, controller.signal);
    return this.#aborted && error === this.#reason;
  }

  /** Clears the timer and the parent listener, if the signal was ever made. */
  dispose(): void {
    this.#disposed = true;
    if (this.#controller === undefined) return;
    clearTimeout(this.#timer);
    this.#unsubscribe?.();
  }

  /** Before the signal exists: has the parent aborted, or the deadline passed? Sticky. */
  #check(): boolean {
    if (this.#aborted) return true;
    const parent = this.#parent;
    if (parent?.aborted) {
      this.#aborted = true;
      this.#reason = parent.reason;
    } else if (performance.now() >= this.#at) {
      this.#aborted = true;
      this.#expired = new TimeoutError(this.#ms);
      this.#reason = this.#expired;
    }
    return this.#aborted;
  }
}

/** Calls `next` and returns its outcome as a promise, a synchronous throw as a rejection. */
function settle<T>(next: (c: Cancellation) => T | PromiseLike<T>, c: Cancellation): Promise<T> {
  try {
    return Promise.resolve(next(c));
  } catch (error) {
    return Promise.reject(error);
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

  /** @internal As a layer of `compose()`: the signal is a `DeferredSignal`, made on demand. */
  [executeIn]<T>(next: (c: Cancellation) => T | PromiseLike<T>, parent: Cancellation): Promise<T> {
    if (parent?.aborted) return Promise.reject(parent.reason);
    const ms = this.ms;
    if (ms <= 0) return Promise.reject(new TimeoutError(ms));
    if (ms === Number.POSITIVE_INFINITY) return settle(next, parent);
    const deferred = new DeferredSignal(ms, parent);
    let result: T | PromiseLike<T>;
    try {
      result = next(deferred);
    } catch (error) {
      deferred.dispose();
      return Promise.reject(deferred.isTimeout(error) ? deferred.expired : error);
    }
    return Promise.resolve(result).then(
      (value) => {
        deferred.dispose();
        return value;
      },
      (error: unknown) => {
        deferred.dispose();
        throw deferred.isTimeout(error) ? deferred.expired : error;
      },
    );
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
