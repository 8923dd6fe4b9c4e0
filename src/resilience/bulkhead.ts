import type { ComponentSink, MetricsSink } from '../cancel/metrics-sink.ts';
import {
  type Cancellation,
  type CancellationAware,
  type ExecuteOptions,
  executeIn,
  type Policy,
  realSignal,
} from '../cancel/policy.ts';
import { Semaphore } from '../sync/semaphore.ts';
import { channels } from './channels.ts';
import { systemClock } from './clock.ts';
import { BulkheadRejectedError } from './errors.ts';
import { Emitter, type PolicyEvent } from './events.ts';
import {
  callerSignal,
  checkNumber,
  executeError,
  NEVER,
  recorded,
  type Step,
  type Work,
} from './internal.ts';

export interface BulkheadOptions {
  /** Calls running at once. */
  concurrency: number;
  /** Calls that may wait for a slot (FIFO); beyond that, `BulkheadRejectedError`. Default 0. */
  queue?: number;
  /** A name for events and diagnostics. Default 'bulkhead'. */
  name?: string;
  /**
   * A metrics registry (observe's `Metrics`, or any `MetricsSink`): every call is recorded under
   * this policy's name. Default: none, and nothing is recorded.
   */
  metrics?: MetricsSink | undefined;
}

export interface BulkheadStats {
  concurrency: number;
  queue: number;
  /** Calls running now. */
  running: number;
  /** Calls waiting for a slot now. */
  queued: number;
  /** Calls that got a slot, since creation. */
  admitted: number;
  /** Calls refused because slots and queue were full. */
  rejected: number;
  /** Queued calls whose signal aborted before they got a slot. */
  cancelled: number;
}

/**
 * Bounds concurrency: at most `concurrency` calls run, at most `queue` wait (FIFO) and the rest
 * are refused at once with `BulkheadRejectedError`. Built on `Semaphore`: a queued call whose
 * signal aborts leaves the queue at once (rejecting with the reason) and never takes a slot.
 * A *running* call keeps its slot until its work settles — cancellation is cooperative, and
 * letting go of the slot while the work still runs would break the bound.
 */
export class BulkheadPolicy implements Policy, CancellationAware {
  readonly name: string;
  readonly #metrics: ComponentSink | undefined;
  readonly concurrency: number;
  readonly queue: number;
  readonly #semaphore: Semaphore;
  #running = 0;
  #rejected = 0;
  readonly #onRejected = new Emitter<BulkheadRejectedError>();
  /** Every call refused because slots and queue were full. */
  readonly onRejected: PolicyEvent<BulkheadRejectedError> = this.#onRejected.event;

  constructor(options: BulkheadOptions) {
    const where = 'bulkhead';
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`${where}: options with a concurrency are required`);
    }
    this.concurrency = checkNumber(where, 'concurrency', options.concurrency, {
      min: 1,
      integer: true,
    });
    this.queue = checkNumber(where, 'queue', options.queue ?? 0, { integer: true });
    this.#semaphore = new Semaphore(this.concurrency);
    this.name = options.name ?? 'bulkhead';
    this.#metrics = options.metrics?.component(this.name);
  }

  stats(): BulkheadStats {
    const s = this.#semaphore.stats();
    return {
      concurrency: this.concurrency,
      queue: this.queue,
      running: this.#running,
      queued: s.waiting,
      admitted: s.acquiredTotal,
      rejected: this.#rejected,
      cancelled: s.cancelledTotal,
    };
  }

  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const metrics = this.#metrics;
    if (metrics === undefined) return this.#call(fn, options);
    return recorded(metrics, systemClock, options?.signal, () => this.#call(fn, options));
  }

  /** @internal As a layer of `compose()`. */
  [executeIn]<T>(next: Step<T>, c: Cancellation): Promise<T> {
    const metrics = this.#metrics;
    if (metrics === undefined) return this.#admit(next, c);
    return recorded(metrics, systemClock, c, () => this.#admit(next, c));
  }

  #call<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const signal = callerSignal(options?.signal);
    const invalid = executeError('bulkhead.execute', fn, signal);
    if (invalid !== undefined) return Promise.reject(invalid);
    return this.#admit(fn as Step<T>, signal);
  }

  #admit<T>(fn: Step<T>, signal: Cancellation): Promise<T> {
    const sem = this.#semaphore;
    const free = sem.available !== 0 && sem.waiting === 0;
    if (!free && sem.waiting >= this.queue) {
      this.#rejected++;
      const error = new BulkheadRejectedError(
        this.#running,
        this.concurrency,
        sem.waiting,
        this.queue,
      );
      this.#onRejected.emit(error);
      if (channels.bulkheadRejected.hasSubscribers) {
        channels.bulkheadRejected.publish({ policy: this.name, error });
      }
      return Promise.reject(error);
    }
    if (free) {
      // A slot is free and nobody queues: take it here and give it back when the work settles,
      // without the semaphore's wait machinery (and with no signal: there is no wait to bound,
      // so a deferred one — a timeout's, in compose — need not be made).
      sem.tryAcquire();
      return this.#start(fn, signal ?? NEVER, true);
    }
    const waitSignal = realSignal(signal);
    const running = sem.run(
      () => this.#start(fn, signal ?? NEVER, false),
      waitSignal === undefined ? undefined : { signal: waitSignal },
    );
    this.#metrics?.setQueueDepth(sem.waiting);
    return running;
  }

  /** Runs `fn` in a slot; `release`: give the slot back here (else the semaphore's `run` does). */
  #start<T>(fn: Step<T>, signal: Cancellation, release: boolean): Promise<T> {
    this.#running++;
    this.#metrics?.setInflight(this.#running);
    this.#metrics?.setQueueDepth(this.#semaphore.waiting);
    let result: T | PromiseLike<T>;
    try {
      result = fn(signal);
    } catch (error) {
      this.#end();
      if (release) this.#semaphore.release();
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(
      release ? this.#releaseOk : this.#doneOk,
      release ? this.#releaseFailed : this.#doneFailed,
    ) as Promise<T>;
  }

  // Bound once, so no closure per call (and `.then` is cheaper than `.finally`). The `done`
  // pair is for a slot the semaphore's `run` gives back itself; the `release` pair gives it back.
  readonly #doneOk = (value: unknown): unknown => {
    this.#end();
    return value;
  };

  readonly #doneFailed = (error: unknown): never => {
    this.#end();
    throw error;
  };

  readonly #releaseOk = (value: unknown): unknown => {
    this.#end();
    this.#semaphore.release();
    return value;
  };

  readonly #releaseFailed = (error: unknown): never => {
    this.#end();
    this.#semaphore.release();
    throw error;
  };

  #end(): void {
    this.#running--;
    this.#metrics?.setInflight(this.#running);
  }
}

/** `new BulkheadPolicy(options)`. */
export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  return new BulkheadPolicy(options);
}
