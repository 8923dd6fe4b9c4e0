import type { ComponentSink, MetricsSink } from '../cancel/metrics-sink.ts';
import {
  type Cancellation,
  type CancellationAware,
  type ExecuteOptions,
  executeIn,
  isAbortOfCancellation,
  type Policy,
} from '../cancel/policy.ts';
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
  type Step,
  type Work,
} from './internal.ts';
import { RollingWindow } from './rolling-window.ts';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface StateChangeEvent {
  from: CircuitState;
  to: CircuitState;
  /** For `to: 'open'`: how long until a probe is admitted. */
  retryAfterMs?: number;
  /** What tripped it: the failing call's error (absent for slow calls and manual changes). */
  error?: unknown;
}

export interface CircuitBreakerOptions {
  /**
   * Consecutive-failure mode: open after this many failures in a row. The default mode, with
   * 5, when `failureRatio` is not given.
   */
  failureThreshold?: number;
  /**
   * Failure-ratio mode: open when failures / calls over the last `windowMs` reach this ratio
   * (0 < ratio <= 1), once at least `minimumRequests` calls were counted in the window.
   */
  failureRatio?: number;
  /** Failure-ratio mode: calls needed in the window before the ratio counts. Default 10. */
  minimumRequests?: number;
  /** Failure-ratio mode: the rolling window. Default 10,000. */
  windowMs?: number;
  /** How long the circuit stays open before admitting probes. Default 10,000. */
  halfOpenAfterMs?: number;
  /** Probes allowed in flight at once while half-open. Default 1. */
  halfOpenMaxCalls?: number;
  /** Consecutive probe successes that close the circuit. Default 1. */
  halfOpenSuccesses?: number;
  /**
   * A call that succeeds but takes at least this long counts as a failure (its value is still
   * returned). Default: off.
   */
  slowCallMs?: number;
  /**
   * Which errors count as failures. Default: every error. The caller's own abort never counts
   * either way.
   */
  isFailure?: (error: unknown) => boolean;
  /** A name for events, errors and diagnostics. Default 'circuit'. */
  name?: string;
  clock?: Clock;
  /**
   * A metrics registry (observe's `Metrics`, or any `MetricsSink`): every call is recorded under
   * this policy's name. Default: none, and nothing is recorded.
   */
  metrics?: MetricsSink | undefined;
}

export interface CircuitBreakerStats {
  state: CircuitState;
  successes: number;
  failures: number;
  /** Successes slower than `slowCallMs` (also counted in `failures`). */
  slowCalls: number;
  /** Calls refused without being made. */
  rejected: number;
  /** Times the circuit opened. */
  opened: number;
}

/**
 * A circuit breaker: closed (calls pass, failures counted) → open (calls rejected at once with
 * `CircuitOpenError`, no call made) → after `halfOpenAfterMs`, half-open (at most
 * `halfOpenMaxCalls` probes in flight; `halfOpenSuccesses` consecutive successes close it, one
 * failure re-opens it).
 *
 * Invariants: a call's outcome counts only in the state period it started in (a slow success
 * that lands after the circuit opened cannot close it). No timer is held: open → half-open
 * happens when the next call, or a read of `state`, sees the time has come.
 */
export class CircuitBreakerPolicy implements Policy, CancellationAware {
  readonly name: string;
  readonly #metrics: ComponentSink | undefined;
  readonly #clock: Clock;
  readonly #threshold: number;
  readonly #ratio: number | undefined;
  readonly #minimumRequests: number;
  readonly #window: RollingWindow | undefined;
  readonly #halfOpenAfterMs: number;
  readonly #halfOpenMaxCalls: number;
  readonly #halfOpenSuccesses: number;
  readonly #slowCallMs: number | undefined;
  readonly #isFailure: ((error: unknown) => boolean) | undefined;

  #state: CircuitState = 'closed';
  /** Bumped on every state change: outcomes from an older period are ignored. */
  #period = 0;
  #consecutiveFailures = 0;
  #openedAt = 0;
  #probes = 0;
  #probeSuccesses = 0;

  #successes = 0;
  #failures = 0;
  #slowCalls = 0;
  #rejected = 0;
  #opened = 0;

  readonly #onStateChange = new Emitter<StateChangeEvent>();
  readonly #onRejected = new Emitter<CircuitOpenError>();
  /** Every state change. */
  readonly onStateChange: PolicyEvent<StateChangeEvent> = this.#onStateChange.event;
  /** Every call refused without being made. */
  readonly onRejected: PolicyEvent<CircuitOpenError> = this.#onRejected.event;
  /** The circuit opened. */
  readonly onBreak: PolicyEvent<StateChangeEvent> = (listener) =>
    this.onStateChange((e) => {
      if (e.to === 'open') listener(e);
    });
  /** The circuit went half-open. */
  readonly onHalfOpen: PolicyEvent<StateChangeEvent> = (listener) =>
    this.onStateChange((e) => {
      if (e.to === 'half-open') listener(e);
    });
  /** The circuit closed again. */
  readonly onReset: PolicyEvent<StateChangeEvent> = (listener) =>
    this.onStateChange((e) => {
      if (e.to === 'closed') listener(e);
    });

  constructor(options: CircuitBreakerOptions = {}) {
    const where = 'circuitBreaker';
    this.#clock = options.clock ?? systemClock;
    if (options.failureRatio !== undefined && options.failureThreshold !== undefined) {
      throw new TypeError(`${where}: give failureThreshold or failureRatio, not both`);
    }
    this.#threshold = checkNumber(where, 'failureThreshold', options.failureThreshold ?? 5, {
      min: 1,
      integer: true,
    });
    if (options.failureRatio !== undefined) {
      this.#ratio = checkNumber(where, 'failureRatio', options.failureRatio, {
        min: 0,
        minExclusive: true,
        max: 1,
      });
      const windowMs = checkNumber(where, 'windowMs', options.windowMs ?? 10_000, {
        min: 0,
        minExclusive: true,
      });
      this.#window = new RollingWindow(this.#clock, windowMs);
    }
    this.#minimumRequests = checkNumber(where, 'minimumRequests', options.minimumRequests ?? 10, {
      min: 1,
      integer: true,
    });
    this.#halfOpenAfterMs = checkNumber(
      where,
      'halfOpenAfterMs',
      options.halfOpenAfterMs ?? 10_000,
    );
    this.#halfOpenMaxCalls = checkNumber(where, 'halfOpenMaxCalls', options.halfOpenMaxCalls ?? 1, {
      min: 1,
      integer: true,
    });
    this.#halfOpenSuccesses = checkNumber(
      where,
      'halfOpenSuccesses',
      options.halfOpenSuccesses ?? 1,
      { min: 1, integer: true },
    );
    if (options.slowCallMs !== undefined) {
      this.#slowCallMs = checkNumber(where, 'slowCallMs', options.slowCallMs);
    }
    checkFunction(where, 'isFailure', options.isFailure);
    this.#isFailure = options.isFailure;
    this.name = options.name ?? 'circuit';
    this.#metrics = options.metrics?.component(this.name);
    this.#metrics?.setBreakerState('closed');
  }

  /** The state now (an open circuit whose time has come reads, and becomes, half-open). */
  get state(): CircuitState {
    this.#refresh();
    return this.#state;
  }

  stats(): CircuitBreakerStats {
    return {
      state: this.state,
      successes: this.#successes,
      failures: this.#failures,
      slowCalls: this.#slowCalls,
      rejected: this.#rejected,
      opened: this.#opened,
    };
  }

  /** Opens the circuit now, e.g. on a signal from elsewhere that the downstream is down. */
  open(): void {
    this.#open(undefined);
  }

  /** Closes the circuit now and forgets the failures counted so far. */
  close(): void {
    if (this.#state !== 'closed') this.#transition('closed');
    this.#consecutiveFailures = 0;
    this.#window?.reset();
  }

  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const metrics = this.#metrics;
    if (metrics === undefined) return this.#call(fn, options);
    return recorded(metrics, this.#clock, options?.signal, () => this.#call(fn, options));
  }

  /** @internal As a layer of `compose()`. */
  [executeIn]<T>(next: Step<T>, c: Cancellation): Promise<T> {
    const metrics = this.#metrics;
    if (metrics === undefined) return this.#admit(next, c);
    return recorded(metrics, this.#clock, c, () => this.#admit(next, c));
  }

  #call<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const signal = callerSignal(options?.signal);
    const invalid = executeError('circuitBreaker.execute', fn, signal);
    if (invalid !== undefined) return Promise.reject(invalid);
    return this.#admit(fn as Step<T>, signal);
  }

  #admit<T>(fn: Step<T>, signal: Cancellation): Promise<T> {
    this.#refresh();
    const state = this.#state;
    if (state === 'open' || (state === 'half-open' && this.#probes >= this.#halfOpenMaxCalls)) {
      return Promise.reject(this.#reject());
    }
    const probe = state === 'half-open';
    if (probe) this.#probes++;
    return this.#run(fn, signal, this.#period, probe);
  }

  /** Runs an admitted call and records its outcome (with `.then`, no async frame per call). */
  #run<T>(fn: Step<T>, signal: Cancellation, period: number, probe: boolean): Promise<T> {
    const started = this.#slowCallMs === undefined ? 0 : this.#clock.now();
    let result: T | PromiseLike<T>;
    try {
      result = fn(signal ?? NEVER);
    } catch (error) {
      this.#settledWithError(error, signal, period, probe);
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(
      (value) => {
        this.#settledWithValue(period, probe, started);
        return value;
      },
      (error: unknown) => {
        this.#settledWithError(error, signal, period, probe);
        throw error;
      },
    );
  }

  #settledWithValue(period: number, probe: boolean, started: number): void {
    if (probe && period === this.#period) this.#probes--;
    const slow = this.#slowCallMs;
    if (slow !== undefined && this.#clock.now() - started >= slow) {
      this.#slowCalls++;
      this.#failure(period, undefined);
    } else {
      this.#success(period);
    }
  }

  #settledWithError(error: unknown, signal: Cancellation, period: number, probe: boolean): void {
    if (probe && period === this.#period) this.#probes--;
    // The caller's abort counts neither way.
    if (isAbortOfCancellation(error, signal)) return;
    if (this.#isFailure === undefined || this.#isFailure(error)) this.#failure(period, error);
    else this.#success(period);
  }

  #success(period: number): void {
    this.#successes++;
    if (period !== this.#period) return;
    if (this.#state === 'half-open') {
      if (++this.#probeSuccesses >= this.#halfOpenSuccesses) {
        this.#transition('closed');
        this.#consecutiveFailures = 0;
        this.#window?.reset();
      }
      return;
    }
    this.#consecutiveFailures = 0;
    this.#window?.add(1, 0);
  }

  #failure(period: number, error: unknown): void {
    this.#failures++;
    if (period !== this.#period) return;
    if (this.#state === 'half-open') {
      this.#open(error);
      return;
    }
    const window = this.#window;
    if (window === undefined) {
      if (++this.#consecutiveFailures >= this.#threshold) this.#open(error);
      return;
    }
    window.add(0, 1);
    const [good, bad] = window.totals();
    const total = good + bad;
    if (total >= this.#minimumRequests && bad / total >= this.#ratio!) this.#open(error);
  }

  #open(error: unknown): void {
    this.#openedAt = this.#clock.now();
    this.#opened++;
    this.#transition('open', error);
  }

  #refresh(): void {
    if (this.#state === 'open' && this.#clock.now() - this.#openedAt >= this.#halfOpenAfterMs) {
      this.#transition('half-open');
    }
  }

  #transition(to: CircuitState, error?: unknown): void {
    const from = this.#state;
    this.#state = to;
    this.#period++;
    this.#probes = 0;
    this.#probeSuccesses = 0;
    this.#metrics?.setBreakerState(to);
    if (!this.#onStateChange.active && !channels.circuitState.hasSubscribers) return;
    const event: StateChangeEvent = { from, to };
    if (to === 'open') event.retryAfterMs = this.#halfOpenAfterMs;
    if (error !== undefined) event.error = error;
    this.#onStateChange.emit(event);
    if (channels.circuitState.hasSubscribers) {
      channels.circuitState.publish({ policy: this.name, ...event });
    }
  }

  #reject(): CircuitOpenError {
    this.#rejected++;
    const retryAt =
      this.#state === 'open' ? this.#openedAt + this.#halfOpenAfterMs : this.#clock.now();
    const error = new CircuitOpenError(
      Math.max(0, retryAt - this.#clock.now()),
      retryAt,
      this.name,
    );
    this.#onRejected.emit(error);
    if (channels.circuitRejected.hasSubscribers) {
      channels.circuitRejected.publish({ policy: this.name, error });
    }
    return error;
  }
}

/** `new CircuitBreakerPolicy(options)`. */
export function circuitBreaker(options?: CircuitBreakerOptions): CircuitBreakerPolicy {
  return new CircuitBreakerPolicy(options);
}
