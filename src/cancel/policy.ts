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
