import { isAbortOf } from './on-abort.ts';

/**
 * The one contract every resilience policy shares (timeout here; retry, circuitBreaker,
 * rateLimit, bulkhead, fallback in resilience/): run `fn` with a signal the policy controls,
 * under the caller's optional signal.
 */
export interface ExecuteOptions {
  signal?: AbortSignal | undefined;
}

export interface Policy {
  execute<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T>;
}

/**
 * @internal What a layer of a composed policy hands the next: a real `AbortSignal`, a
 * `DeferredSignal` (a timeout's signal, not made yet), or `undefined` for none. Both kinds
 * answer `aborted` and `reason`; `realSignal()` gives the AbortSignal itself, made on demand.
 */
export type Cancellation = AbortSignal | DeferredSignalLike | undefined;

/** @internal The part of `DeferredSignal` (timeout.ts) that layers other than the timeout use. */
export interface DeferredSignalLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  /** The real AbortSignal, created (and wired to the deadline and parent) on first read. */
  readonly signal: AbortSignal;
  /** Whether `error` is the rejection this signal's abort caused (`isAbortOf` for it). */
  isAbortOf(error: unknown): boolean;
}

/**
 * @internal The method by which `compose()` runs a layer that knows `Cancellation`: `next` is
 * the rest of the chain and gets what the layer controls (`undefined`, the same cancellation, or
 * its own). Policies outside switchyard don't have it; compose then hands them a real signal.
 */
export const executeIn: unique symbol = Symbol('switchyard.executeIn');

/**
 * @internal A policy that `compose()` can run without making signals nobody reads.
 *
 * Contract: the caller has just checked `cancellation.aborted` (compose checks the caller's
 * signal; each layer hands `next` a cancellation it has checked, or one it just made), so
 * `[executeIn]` need not check it again on entry — on a deferred signal, `aborted` reads the
 * clock. A layer that calls `next` after a wait of its own checks `aborted` again first.
 */
export interface CancellationAware {
  [executeIn]<T>(
    next: (cancellation: Cancellation) => T | PromiseLike<T>,
    cancellation: Cancellation,
  ): Promise<T>;
}

/** @internal The AbortSignal of a cancellation (made now if it was deferred), or undefined. */
export function realSignal(cancellation: Cancellation): AbortSignal | undefined {
  return cancellation === undefined || cancellation instanceof AbortSignal
    ? cancellation
    : cancellation.signal;
}

/** @internal `isAbortOf(error, signal)` for any cancellation: was this rejection its abort? */
export function isAbortOfCancellation(error: unknown, cancellation: Cancellation): boolean {
  if (cancellation === undefined) return false;
  return cancellation instanceof AbortSignal
    ? isAbortOf(error, cancellation)
    : cancellation.isAbortOf(error);
}
