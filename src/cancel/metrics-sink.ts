import { CancelledError, TimeoutError } from './errors.ts';

/**
 * The contract between the parts that do work (pools, policies, pipeline stages) and a metrics
 * registry. It lives in the lowest layer so that every layer can take a `metrics` option
 * without importing observe/; observe's `Metrics` implements it (and so can anything else,
 * e.g. an OpenTelemetry adapter). When no `metrics` option is given, nothing is recorded and
 * nothing is paid beyond one `undefined` check.
 */

/** How a unit of work ended. `cancelled` covers aborts by a signal; `timeout` a `TimeoutError`. */
export type TaskOutcome = 'ok' | 'error' | 'timeout' | 'cancelled';

/** A circuit breaker's state; exported as 0 (closed), 1 (half-open), 2 (open). */
export type BreakerState = 'closed' | 'half-open' | 'open';

/** The state label of `switchyard_pool_threads`. */
export type PoolThreadState = 'busy' | 'idle';

/** What one component (a pool, a policy, a stage) records. */
export interface ComponentSink {
  recordTask(outcome: TaskOutcome, seconds: number): void;
  setInflight(count: number): void;
  setQueueDepth(count: number): void;
  setPoolThreads(state: PoolThreadState, count: number): void;
  incRetries(count?: number): void;
  setBreakerState(state: BreakerState): void;
}

/** A registry: hands out one sink per component name. */
export interface MetricsSink {
  component(name: string): ComponentSink;
}

/**
 * The outcome label for a settled unit of work: `ok` without an error, `timeout` for a
 * `TimeoutError`, `cancelled` for a `CancelledError`, an `AbortError` or the reason of an aborted
 * `signal`, and `error` otherwise.
 */
export function outcomeOf(error?: unknown, signal?: AbortSignal): TaskOutcome {
  if (error === undefined) return 'ok';
  if (error instanceof TimeoutError) return 'timeout';
  if (error instanceof CancelledError) return 'cancelled';
  if (error instanceof Error && error.name === 'AbortError') return 'cancelled';
  if (signal?.aborted && error === signal.reason) return 'cancelled';
  return 'error';
}
