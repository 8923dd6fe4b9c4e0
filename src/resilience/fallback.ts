import type { ComponentSink, MetricsSink } from '../cancel/metrics-sink.ts';
import {
  type Cancellation,
  type CancellationAware,
  type ExecuteOptions,
  executeIn,
  isAbortOfCancellation,
} from '../cancel/policy.ts';
import { channels } from './channels.ts';
import { systemClock } from './clock.ts';
import { Emitter, type PolicyEvent } from './events.ts';
import {
  callerSignal,
  checkFunction,
  executeError,
  NEVER,
  recorded,
  type Step,
  type Work,
} from './internal.ts';

export interface FallbackOptions {
  /** Which errors the fallback replaces. Default: every error except the caller's own abort. */
  handle?: (error: unknown) => boolean;
  /** A name for events and diagnostics. Default 'fallback'. */
  name?: string;
  /**
   * A metrics registry (observe's `Metrics`, or any `MetricsSink`): every call is recorded under
   * this policy's name. Default: none, and nothing is recorded.
   */
  metrics?: MetricsSink | undefined;
}

/** The value, or the function of the error (sync or async) that gives it. */
export type FallbackValue<F> = F | ((error: unknown) => F | PromiseLike<F>);

/**
 * Replaces a failure with a value: `fallback(value)` or `fallback((error) => value)`. The
 * caller's own abort is never replaced — the caller asked to stop. A function that itself
 * throws rejects the call with that error.
 *
 * In `compose()` the result type widens to `T | F`.
 */
export class FallbackPolicy<F> implements CancellationAware {
  /** Type-level only: what this policy may resolve with instead of the work's result. */
  declare readonly fallbackType: F;
  readonly name: string;
  readonly #metrics: ComponentSink | undefined;
  readonly #value: FallbackValue<F>;
  readonly #handle: ((error: unknown) => boolean) | undefined;
  #used = 0;
  readonly #onFallback = new Emitter<unknown>();
  /** Every failure the fallback replaced (the listener gets the error). */
  readonly onFallback: PolicyEvent<unknown> = this.#onFallback.event;

  constructor(value: FallbackValue<F>, options: FallbackOptions = {}) {
    checkFunction('fallback', 'handle', options.handle);
    this.#value = value;
    this.#handle = options.handle;
    this.name = options.name ?? 'fallback';
    this.#metrics = options.metrics?.component(this.name);
  }

  stats(): { used: number } {
    return { used: this.#used };
  }

  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T | F> {
    const metrics = this.#metrics;
    if (metrics === undefined) return this.#call(fn, options);
    return recorded(metrics, systemClock, options?.signal, () => this.#call(fn, options));
  }

  /**
   * @internal As a layer of `compose()`. (Typed as returning `T` for the protocol; like
   * `execute`, it may resolve with the fallback's `F`, which `compose()`'s type accounts for.)
   */
  [executeIn]<T>(next: Step<T>, c: Cancellation): Promise<T> {
    const metrics = this.#metrics;
    if (metrics === undefined) return this.#run(next, c) as Promise<T>;
    return recorded(metrics, systemClock, c, () => this.#run(next, c)) as Promise<T>;
  }

  #call<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T | F> {
    const signal = callerSignal(options?.signal);
    const invalid = executeError('fallback.execute', fn, signal);
    if (invalid !== undefined) return Promise.reject(invalid);
    return this.#run(fn as Step<T>, signal);
  }

  async #run<T>(fn: Step<T>, signal: Cancellation): Promise<T | F> {
    try {
      return await fn(signal ?? NEVER);
    } catch (error) {
      if (isAbortOfCancellation(error, signal)) throw error;
      if (this.#handle !== undefined && !this.#handle(error)) throw error;
      this.#used++;
      this.#onFallback.emit(error);
      if (channels.fallback.hasSubscribers) {
        channels.fallback.publish({ policy: this.name, error });
      }
      const value = this.#value;
      return typeof value === 'function'
        ? await (value as (error: unknown) => F | PromiseLike<F>)(error)
        : value;
    }
  }
}

/** `new FallbackPolicy(value, options)`. */
export function fallback<F>(value: FallbackValue<F>, options?: FallbackOptions): FallbackPolicy<F> {
  return new FallbackPolicy(value, options);
}
