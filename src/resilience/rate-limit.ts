import type { ComponentSink, MetricsSink } from '../cancel/metrics-sink.ts';
import type { ExecuteOptions, Policy } from '../cancel/policy.ts';
import { channels } from './channels.ts';
import { type Clock, systemClock } from './clock.ts';
import { RateLimitedError } from './errors.ts';
import { Emitter, type PolicyEvent } from './events.ts';
import { callerSignal, checkNumber, executeError, NEVER, recorded, type Work } from './internal.ts';

export interface RateLimitOptions {
  /** Tokens added per `perMs`. */
  rate: number;
  /** The period of `rate`. Default 1,000 (so `rate` is per second). */
  perMs?: number;
  /** The bucket's size: how many calls may go at once after a quiet spell. Default `rate`. */
  burst?: number;
  /**
   * The longest a call waits for its token; a call that would wait longer rejects at once with
   * `RateLimitedError` (and takes no token). Default Infinity (always wait); 0 never waits.
   */
  maxWaitMs?: number;
  /** A name for events and diagnostics. Default 'rateLimit'. */
  name?: string;
  clock?: Clock;
  /**
   * A metrics registry (observe's `Metrics`, or any `MetricsSink`): every call is recorded under
   * this policy's name. Default: none, and nothing is recorded.
   */
  metrics?: MetricsSink | undefined;
}

export interface RateLimitStats {
  /** Tokens in the bucket now (negative: owed to waiting calls). */
  tokens: number;
  /** Calls waiting for their token. */
  waiting: number;
  /** Calls let through. */
  admitted: number;
  /** Calls refused with `RateLimitedError`. */
  rejected: number;
}

/**
 * A token bucket: `burst` tokens, refilled at `rate` per `perMs`; each call takes one. With no
 * token left a call waits its turn (FIFO by reservation, like Go's `rate.Limiter`: each waiter
 * is told when its token comes) — cancellably: an aborted waiter rejects with its signal's
 * reason and gives its token back — or, past `maxWaitMs`, rejects with `RateLimitedError`.
 *
 * The limit applies to *starts*: the bucket does not care how long calls run (bound that with
 * `bulkhead`).
 */
export class RateLimitPolicy implements Policy {
  readonly name: string;
  readonly #metrics: ComponentSink | undefined;
  readonly rate: number;
  readonly perMs: number;
  readonly burst: number;
  readonly maxWaitMs: number;
  readonly #clock: Clock;
  /** Tokens per millisecond. */
  readonly #refill: number;
  #tokens: number;
  #updatedAt: number;
  #waiting = 0;
  #admitted = 0;
  #rejected = 0;
  readonly #onRejected = new Emitter<RateLimitedError>();
  /** Every call refused with `RateLimitedError`. */
  readonly onRejected: PolicyEvent<RateLimitedError> = this.#onRejected.event;

  constructor(options: RateLimitOptions) {
    const where = 'rateLimit';
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`${where}: options with a rate are required`);
    }
    this.rate = checkNumber(where, 'rate', options.rate, { min: 0, minExclusive: true });
    this.perMs = checkNumber(where, 'perMs', options.perMs ?? 1_000, {
      min: 0,
      minExclusive: true,
    });
    this.burst = checkNumber(where, 'burst', options.burst ?? Math.max(1, this.rate), { min: 1 });
    this.maxWaitMs = checkNumber(where, 'maxWaitMs', options.maxWaitMs ?? Number.POSITIVE_INFINITY);
    this.#clock = options.clock ?? systemClock;
    this.#refill = this.rate / this.perMs;
    this.#tokens = this.burst;
    this.#updatedAt = this.#clock.now();
    this.name = options.name ?? 'rateLimit';
    this.#metrics = options.metrics?.component(this.name);
  }

  stats(): RateLimitStats {
    this.#update();
    return {
      tokens: this.#tokens,
      waiting: this.#waiting,
      admitted: this.#admitted,
      rejected: this.#rejected,
    };
  }

  /** Takes a token if one is there now (never waits). */
  tryAcquire(): boolean {
    this.#update();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    this.#admitted++;
    return true;
  }

  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const metrics = this.#metrics;
    if (metrics === undefined) return this.#call(fn, options);
    return recorded(metrics, this.#clock, options?.signal, () => this.#call(fn, options));
  }

  #call<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const signal = callerSignal(options?.signal);
    const invalid = executeError('rateLimit.execute', fn, signal);
    if (invalid !== undefined) return Promise.reject(invalid);
    this.#update();
    this.#tokens -= 1;
    if (this.#tokens >= 0) {
      this.#admitted++;
      return run(fn, signal);
    }
    const waitMs = -this.#tokens / this.#refill;
    if (waitMs > this.maxWaitMs) {
      this.#tokens += 1;
      this.#rejected++;
      const error = new RateLimitedError(waitMs, this.maxWaitMs);
      this.#onRejected.emit(error);
      if (channels.rateLimited.hasSubscribers) {
        channels.rateLimited.publish({ policy: this.name, error });
      }
      return Promise.reject(error);
    }
    return this.#wait(waitMs, fn, signal);
  }

  async #wait<T>(waitMs: number, fn: Work<T>, signal: AbortSignal | undefined): Promise<T> {
    this.#waiting++;
    try {
      await this.#clock.sleep(waitMs, { signal });
    } catch (reason) {
      // Cancelled: the reserved token goes back (later reservations keep their times, so
      // the rate still holds; the token just comes sooner to the next caller).
      this.#update();
      this.#tokens = Math.min(this.burst, this.#tokens + 1);
      throw reason;
    } finally {
      this.#waiting--;
    }
    this.#admitted++;
    return fn(signal ?? NEVER);
  }

  #update(): void {
    const now = this.#clock.now();
    const elapsed = now - this.#updatedAt;
    this.#updatedAt = now;
    if (elapsed > 0) this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.#refill);
  }
}

async function run<T>(fn: Work<T>, signal: AbortSignal | undefined): Promise<T> {
  return fn(signal ?? NEVER);
}

/** `new RateLimitPolicy(options)`. */
export function rateLimit(options: RateLimitOptions): RateLimitPolicy {
  return new RateLimitPolicy(options);
}
