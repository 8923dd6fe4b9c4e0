import type { ComponentSink, MetricsSink } from '../cancel/metrics-sink.ts';
import {
  type Cancellation,
  type CancellationAware,
  type ExecuteOptions,
  executeIn,
  type Policy,
  realSignal,
} from '../cancel/policy.ts';
import { type Backoff, exponential } from './backoff.ts';
import { RetryBudget, type RetryBudgetOptions } from './budget.ts';
import { channels } from './channels.ts';
import { type Clock, systemClock } from './clock.ts';
import { CircuitOpenError } from './errors.ts';
import { Emitter, type PolicyEvent } from './events.ts';
import {
  callerSignal,
  checkFunction,
  checkNumber,
  executeError,
  NEVER,
  recorded,
  retryAfterHint,
  type Step,
  type Work,
} from './internal.ts';

/** What `onRetry` listeners get, before the backoff sleep. */
export interface RetryEvent {
  /** The attempt that just failed (1 = the first call). */
  attempt: number;
  /** How long the policy sleeps before the next attempt. */
  delayMs: number;
  /** Whether `delayMs` came from a `retryAfterMs` hint on the error. */
  hinted: boolean;
  /** The error of the failed attempt (absent when a result was retried). */
  error?: unknown;
  /** The result that `retryOnResult` rejected (absent when an error was retried). */
  value?: unknown;
}

/** What `onGiveUp` listeners get: the policy stops retrying and returns the last outcome. */
export interface GiveUpEvent {
  attempt: number;
  reason: 'attempts' | 'retryOn' | 'budget' | 'retryAfterTooLong';
  error?: unknown;
  value?: unknown;
}

export interface RetryOptions {
  /** Attempts in all, the first call included (1 = never retry). Default 3. */
  attempts?: number;
  /** Default `exponential()`: 100 ms doubling to 30 s, full jitter. */
  backoff?: Backoff;
  /**
   * Whether an error is worth another attempt. Default: every error except `CircuitOpenError`
   * (an open circuit exists to fail fast). The caller's own abort is never retried.
   */
  retryOn?: (error: unknown, attempt: number) => boolean;
  /** Whether a *result* is worth another attempt (e.g. an HTTP 503 response). Default: none. */
  retryOnResult?: (value: unknown, attempt: number) => boolean;
  /** Called before each backoff sleep; the same as subscribing with `policy.onRetry`. */
  onRetry?: (event: RetryEvent) => void;
  /**
   * A `retryAfterMs` hint on an error (set from Retry-After by the HTTP layer, carried by
   * `RateLimitedError` and `CircuitOpenError`) replaces the computed delay. A hint longer than
   * this gives up at once with that error rather than sleeping. Default 60,000.
   */
  maxRetryAfterMs?: number;
  /** Shared retry budget, or options for one of this policy's own. Default: none. */
  budget?: RetryBudget | RetryBudgetOptions;
  /** A name for events and diagnostics. Default 'retry'. */
  name?: string;
  clock?: Clock;
  /**
   * A metrics registry (observe's `Metrics`, or any `MetricsSink`): every call is recorded under
   * this policy's name. Default: none, and nothing is recorded.
   */
  metrics?: MetricsSink | undefined;
}

export interface RetryStats {
  /** Calls made through the policy. */
  calls: number;
  /** Retries made (attempts after the first). */
  retries: number;
  /** Calls that ended in an error, after every retry. */
  failures: number;
  /** Retries refused by the budget. */
  budgetExhausted: number;
}

const defaultRetryOn = (error: unknown): boolean => !(error instanceof CircuitOpenError);

/**
 * Retries failed calls with backoff. Resolves with the first success; otherwise rejects with the
 * last error itself (not wrapped) — or resolves with the last result when results were being
 * retried. The backoff sleep is cancellable: the caller's abort rejects at once with its reason.
 */
export class RetryPolicy implements Policy, CancellationAware {
  readonly name: string;
  readonly #metrics: ComponentSink | undefined;
  readonly attempts: number;
  readonly #backoff: Backoff;
  readonly #retryOn: (error: unknown, attempt: number) => boolean;
  readonly #retryOnResult: ((value: unknown, attempt: number) => boolean) | undefined;
  readonly #maxRetryAfterMs: number;
  readonly #budget: RetryBudget | undefined;
  readonly #clock: Clock;
  readonly #onRetry = new Emitter<RetryEvent>();
  readonly #onGiveUp = new Emitter<GiveUpEvent>();
  #calls = 0;
  #retries = 0;
  #failures = 0;
  #budgetExhausted = 0;

  /** Before each backoff sleep. */
  readonly onRetry: PolicyEvent<RetryEvent> = this.#onRetry.event;
  /** When a failing call stops being retried (attempts used up, not retryable, budget). */
  readonly onGiveUp: PolicyEvent<GiveUpEvent> = this.#onGiveUp.event;

  constructor(options: RetryOptions = {}) {
    const where = 'retry';
    this.attempts = checkNumber(where, 'attempts', options.attempts ?? 3, {
      min: 1,
      integer: true,
    });
    this.#backoff = options.backoff ?? exponential();
    if (typeof this.#backoff?.delayMs !== 'function') {
      throw new TypeError(`${where}: backoff must have a delayMs(attempt) method`);
    }
    checkFunction(where, 'retryOn', options.retryOn);
    checkFunction(where, 'retryOnResult', options.retryOnResult);
    checkFunction(where, 'onRetry', options.onRetry);
    this.#retryOn = options.retryOn ?? defaultRetryOn;
    this.#retryOnResult = options.retryOnResult;
    this.#maxRetryAfterMs = checkNumber(
      where,
      'maxRetryAfterMs',
      options.maxRetryAfterMs ?? 60_000,
    );
    this.#clock = options.clock ?? systemClock;
    const budget = options.budget;
    this.#budget =
      budget === undefined || budget instanceof RetryBudget
        ? budget
        : new RetryBudget({ clock: this.#clock, ...budget });
    this.name = options.name ?? 'retry';
    this.#metrics = options.metrics?.component(this.name);
    if (options.onRetry) this.onRetry(options.onRetry);
  }

  stats(): RetryStats {
    return {
      calls: this.#calls,
      retries: this.#retries,
      failures: this.#failures,
      budgetExhausted: this.#budgetExhausted,
    };
  }

  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const metrics = this.#metrics;
    if (metrics === undefined) return this.#call(fn, options);
    return recorded(metrics, this.#clock, options?.signal, () => this.#call(fn, options));
  }

  /** @internal As a layer of `compose()`. */
  [executeIn]<T>(next: Step<T>, c: Cancellation): Promise<T> {
    const metrics = this.#metrics;
    if (metrics === undefined) return this.#run(next, c);
    return recorded(metrics, this.#clock, c, () => this.#run(next, c));
  }

  #call<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const signal = callerSignal(options?.signal);
    const invalid = executeError('retry.execute', fn, signal);
    if (invalid !== undefined) return Promise.reject(invalid);
    return this.#run(fn as Step<T>, signal);
  }

  /**
   * The first attempt runs without an async frame (most calls succeed at once); a failure, or a
   * result to retry, continues in `#retry`.
   */
  #run<T>(fn: Step<T>, signal: Cancellation): Promise<T> {
    this.#calls++;
    this.#budget?.recordCall();
    let first: T | PromiseLike<T>;
    try {
      first = fn(signal ?? NEVER);
    } catch (error) {
      return this.#retry(fn, signal, 1, true, error);
    }
    const check = this.#retryOnResult;
    return Promise.resolve(first).then(
      check === undefined
        ? undefined
        : (value) => (check(value, 1) ? this.#retry(fn, signal, 1, false, value) : value),
      (error: unknown) => this.#retry(fn, signal, 1, true, error),
    );
  }

  /** Attempt `attempt` ended with `outcome` (an error if `failed`, else a result to retry). */
  async #retry<T>(
    fn: Step<T>,
    signal: Cancellation,
    attempt: number,
    failed: boolean,
    outcome: unknown,
  ): Promise<T> {
    for (;;) {
      const delay = failed
        ? this.#decide(attempt, signal, outcome, undefined, true)
        : this.#decide(attempt, signal, undefined, outcome, false);
      if (delay === undefined) {
        if (!failed) return outcome as T;
        this.#failures++;
        throw outcome;
      }
      await this.#clock.sleep(delay, { signal: realSignal(signal) });
      // The next attempt starts under a signal checked now (the executeIn contract).
      if (signal?.aborted) throw signal.reason;
      attempt++;
      let value: T;
      try {
        value = await fn(signal ?? NEVER);
      } catch (error) {
        failed = true;
        outcome = error;
        continue;
      }
      const check = this.#retryOnResult;
      if (check === undefined || !check(value, attempt)) return value;
      failed = false;
      outcome = value;
    }
  }

  /** The delay before the next attempt, or `undefined` to stop and settle with this outcome. */
  #decide(
    attempt: number,
    signal: Cancellation,
    error: unknown,
    value: unknown,
    failed: boolean,
  ): number | undefined {
    // The caller gave up: never retry, whatever the error says.
    if (signal?.aborted) return undefined;
    let reason: GiveUpEvent['reason'] | undefined;
    let delay = 0;
    let hinted = false;
    if (failed && !this.#retryOn(error, attempt)) reason = 'retryOn';
    else if (attempt >= this.attempts) reason = 'attempts';
    else {
      const hint = failed ? retryAfterHint(error) : undefined;
      if (hint !== undefined) {
        if (hint > this.#maxRetryAfterMs) reason = 'retryAfterTooLong';
        delay = hint;
        hinted = true;
      } else {
        delay = this.#backoff.delayMs(attempt);
        if (!(delay >= 0 && Number.isFinite(delay))) delay = 0;
      }
      if (reason === undefined && this.#budget !== undefined && !this.#budget.tryRetry()) {
        this.#budgetExhausted++;
        reason = 'budget';
        if (channels.budgetExhausted.hasSubscribers) {
          channels.budgetExhausted.publish(
            failed ? { policy: this.name, attempt, error } : { policy: this.name, attempt, value },
          );
        }
      }
    }
    if (reason !== undefined) {
      if (this.#onGiveUp.active) {
        this.#onGiveUp.emit(failed ? { attempt, reason, error } : { attempt, reason, value });
      }
      return undefined;
    }
    this.#retries++;
    this.#metrics?.incRetries();
    if (this.#onRetry.active || channels.retry.hasSubscribers) {
      const event: RetryEvent = failed
        ? { attempt, delayMs: delay, hinted, error }
        : { attempt, delayMs: delay, hinted, value };
      this.#onRetry.emit(event);
      if (channels.retry.hasSubscribers) channels.retry.publish({ policy: this.name, ...event });
    }
    return delay;
  }
}

/** `new RetryPolicy(options)`. */
export function retry(options?: RetryOptions): RetryPolicy {
  return new RetryPolicy(options);
}
