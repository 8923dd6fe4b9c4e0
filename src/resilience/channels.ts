import diagnostics from 'node:diagnostics_channel';

/**
 * The `switchyard:policy:*` diagnostics channels. Every message carries `policy` (the policy's
 * `name` option, or its kind) and the same fields as the policy's own event.
 */
export const channels = {
  /** A retry is about to sleep: `{ policy, attempt, delayMs, error?, value? }`. */
  retry: diagnostics.channel('switchyard:policy:retry'),
  /** A retry was refused by the retry budget: `{ policy, attempt, error?, value? }`. */
  budgetExhausted: diagnostics.channel('switchyard:policy:retry-budget-exhausted'),
  /** A circuit breaker changed state: `{ policy, from, to, retryAfterMs? }`. */
  circuitState: diagnostics.channel('switchyard:policy:circuit-state'),
  /** A call was refused by an open (or saturated half-open) circuit: `{ policy, error }`. */
  circuitRejected: diagnostics.channel('switchyard:policy:circuit-rejected'),
  /** A call was refused by a rate limiter: `{ policy, error }`. */
  rateLimited: diagnostics.channel('switchyard:policy:rate-limited'),
  /** A call was refused by a full bulkhead: `{ policy, error }`. */
  bulkheadRejected: diagnostics.channel('switchyard:policy:bulkhead-rejected'),
  /** A fallback replaced a failure: `{ policy, error }`. */
  fallback: diagnostics.channel('switchyard:policy:fallback'),
  /** An adaptive limit changed: `{ policy, from, to, reason }`. */
  limit: diagnostics.channel('switchyard:policy:limit'),
} as const;
