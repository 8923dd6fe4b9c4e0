import { TimeoutError } from '../cancel/errors.ts';
import type { ComponentSink, MetricsSink } from '../cancel/metrics-sink.ts';
import { isAbortOf } from '../cancel/on-abort.ts';
import type { ExecuteOptions, Policy } from '../cancel/policy.ts';
import { Semaphore } from '../sync/semaphore.ts';
import { channels } from './channels.ts';
import { type Clock, systemClock } from './clock.ts';
import { BulkheadRejectedError, RateLimitedError } from './errors.ts';
import { Emitter, type PolicyEvent } from './events.ts';
import {
  callerSignal,
  checkFunction,
  checkNumber,
  executeError,
  NEVER,
  recorded,
  type Work,
} from './internal.ts';

export interface LimitChangeEvent {
  from: number;
  to: number;
  reason: 'increase' | 'latency' | 'overload';
}

export interface AdaptiveConcurrencyOptions {
  /** The lowest limit. Default 1. */
  min?: number;
  /** The highest limit. Default 1,000. */
  max?: number;
  /** The starting limit. Default `min(max, max(min, 10))`. */
  initial?: number;
  /**
   * A success slower than this is a sign of overload (the downstream queues). Default: none —
   * only overload errors cut the limit.
   */
  latencyTargetMs?: number;
  /** The multiplicative decrease on an overload error. Default 0.9. */
  backoffRatio?: number;
  /**
   * Which errors mean "overloaded": default `TimeoutError`, `RateLimitedError`, and errors with
   * `status` or `statusCode` 429 or 503. Other errors neither raise nor cut the limit.
   */
  isOverload?: (error: unknown) => boolean;
  /** Calls that may wait for a slot (FIFO); beyond, `BulkheadRejectedError`. Default 1,000. */
  queue?: number;
  /** A name for events and diagnostics. Default 'adaptiveConcurrency'. */
  name?: string;
  clock?: Clock;
  /**
   * A metrics registry (observe's `Metrics`, or any `MetricsSink`): every call is recorded under
   * this policy's name. Default: none, and nothing is recorded.
   */
  metrics?: MetricsSink | undefined;
}

export interface AdaptiveConcurrencyStats {
  /** The concurrency limit now. */
  limit: number;
  running: number;
  queued: number;
  /** Times the limit was cut. */
  decreases: number;
  rejected: number;
}

function defaultIsOverload(error: unknown): boolean {
  if (error instanceof TimeoutError || error instanceof RateLimitedError) return true;
  if (error === null || typeof error !== 'object') return false;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const code = status ?? statusCode;
  return code === 429 || code === 503;
}

/**
 * A concurrency limit that finds the downstream's capacity by itself (AIMD, as TCP's congestion
 * control and Netflix's concurrency-limits): each success within the latency target, while
 * the limit is in use, adds 1/limit (so +1 per round of `limit` calls); an overload cuts it —
 * by `backoffRatio` for an overload error, by `latencyTargetMs / latency` (at most halving) for
 * a slow success. Only one cut per round: a call that started before the last cut cannot cut
 * again, so one burst of timeouts is one cut, not a collapse to `min`.
 *
 * Calls over the limit wait in FIFO order (cancellably) and, past `queue`, are refused.
 */
export class AdaptiveConcurrencyPolicy implements Policy {
  readonly name: string;
  readonly #metrics: ComponentSink | undefined;
  readonly min: number;
  readonly max: number;
  readonly queue: number;
  readonly #latencyTargetMs: number | undefined;
  readonly #backoffRatio: number;
  readonly #isOverload: (error: unknown) => boolean;
  readonly #clock: Clock;
  /** A queue only: it never holds a permit; a finishing call hands its slot over by release(). */
  readonly #gate = new Semaphore(0);
  #limit: number;
  #running = 0;
  #cuts = 0;
  #rejected = 0;
  readonly #onLimitChange = new Emitter<LimitChangeEvent>();
  /** The (whole-number) limit changed. */
  readonly onLimitChange: PolicyEvent<LimitChangeEvent> = this.#onLimitChange.event;

  constructor(options: AdaptiveConcurrencyOptions = {}) {
    const where = 'adaptiveConcurrency';
    this.min = checkNumber(where, 'min', options.min ?? 1, { min: 1, integer: true });
    this.max = checkNumber(where, 'max', options.max ?? 1_000, { min: this.min, integer: true });
    this.#limit = checkNumber(
      where,
      'initial',
      options.initial ?? Math.min(this.max, Math.max(this.min, 10)),
      { min: this.min, max: this.max, integer: true },
    );
    if (options.latencyTargetMs !== undefined) {
      this.#latencyTargetMs = checkNumber(where, 'latencyTargetMs', options.latencyTargetMs, {
        min: 0,
        minExclusive: true,
      });
    }
    this.#backoffRatio = checkNumber(where, 'backoffRatio', options.backoffRatio ?? 0.9, {
      min: 0,
      minExclusive: true,
      max: 0.999,
    });
    checkFunction(where, 'isOverload', options.isOverload);
    this.#isOverload = options.isOverload ?? defaultIsOverload;
    this.queue = checkNumber(where, 'queue', options.queue ?? 1_000, { integer: true });
    this.#clock = options.clock ?? systemClock;
    this.name = options.name ?? 'adaptiveConcurrency';
    this.#metrics = options.metrics?.component(this.name);
  }

  /** The concurrency limit now. */
  get limit(): number {
    return Math.floor(this.#limit);
  }

  stats(): AdaptiveConcurrencyStats {
    this.#reclaim();
    return {
      limit: this.limit,
      running: this.#running,
      queued: this.#gate.waiting,
      decreases: this.#cuts,
      rejected: this.#rejected,
    };
  }

  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const metrics = this.#metrics;
    if (metrics === undefined) return this.#call(fn, options);
    return recorded(metrics, this.#clock, options?.signal, () => this.#call(fn, options));
  }

  #call<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const signal = callerSignal(options?.signal);
    const invalid = executeError('adaptiveConcurrency.execute', fn, signal);
    if (invalid !== undefined) return Promise.reject(invalid);
    this.#reclaim();
    const gate = this.#gate;
    if (this.#running < this.limit && gate.waiting === 0) {
      this.#running++;
      return this.#run(fn, signal);
    }
    if (gate.waiting >= this.queue) {
      this.#rejected++;
      return Promise.reject(
        new BulkheadRejectedError(this.#running, this.limit, gate.waiting, this.queue),
      );
    }
    return this.#queued(fn, signal);
  }

  async #queued<T>(fn: Work<T>, signal: AbortSignal | undefined): Promise<T> {
    // The slot is counted in #running by whoever released the gate to us.
    await this.#gate.acquire(signal === undefined ? undefined : { signal });
    return this.#run(fn, signal);
  }

  async #run<T>(fn: Work<T>, signal: AbortSignal | undefined): Promise<T> {
    const started = this.#clock.now();
    const round = this.#cuts;
    let value: T;
    try {
      value = await fn(signal ?? NEVER);
    } catch (error) {
      this.#running--;
      if (!(signal !== undefined && isAbortOf(error, signal)) && this.#isOverload(error)) {
        this.#cut(round, this.#backoffRatio, 'overload');
      }
      this.#pump();
      throw error;
    }
    const running = this.#running--;
    const latency = this.#clock.now() - started;
    const target = this.#latencyTargetMs;
    if (target !== undefined && latency > target) {
      this.#cut(round, Math.max(0.5, Math.min(this.#backoffRatio, target / latency)), 'latency');
    } else if (running * 2 >= this.#limit) {
      this.#set(Math.min(this.max, this.#limit + 1 / this.#limit), 'increase');
    }
    this.#pump();
    return value;
  }

  #cut(round: number, ratio: number, reason: LimitChangeEvent['reason']): void {
    if (round !== this.#cuts) return; // already cut since this call started
    this.#cuts++;
    this.#set(Math.max(this.min, this.#limit * ratio), reason);
  }

  #set(limit: number, reason: LimitChangeEvent['reason']): void {
    const from = Math.floor(this.#limit);
    this.#limit = limit;
    const to = Math.floor(limit);
    if (from === to) return;
    if (this.#onLimitChange.active || channels.limit.hasSubscribers) {
      const event = { from, to, reason };
      this.#onLimitChange.emit(event);
      if (channels.limit.hasSubscribers) channels.limit.publish({ policy: this.name, ...event });
    }
  }

  /** Hands free slots to waiters, in order. */
  #pump(): void {
    this.#reclaim();
    const gate = this.#gate;
    while (this.#running < this.limit && gate.waiting !== 0) {
      this.#running++;
      gate.release();
    }
  }

  /**
   * A waiter whose signal aborted in the same tick its slot was handed over gives the slot back
   * to the gate; with nobody else waiting it lands in `available`. Take it back off `running`.
   */
  #reclaim(): void {
    const gate = this.#gate;
    while (gate.available !== 0 && gate.tryAcquire() !== undefined) this.#running--;
  }
}

/** `new AdaptiveConcurrencyPolicy(options)`. */
export function adaptiveConcurrency(
  options?: AdaptiveConcurrencyOptions,
): AdaptiveConcurrencyPolicy {
  return new AdaptiveConcurrencyPolicy(options);
}
