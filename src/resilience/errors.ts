import { SwitchyardError } from '../cancel/errors.ts';

/**
 * A circuit breaker refused the call without making it: the circuit is open, or half-open with
 * every probe slot taken. `retryAfterMs` says when it will let a probe through (0 while
 * half-open); `retry()` honours it when told to retry this error.
 */
export class CircuitOpenError extends SwitchyardError {
  /** Milliseconds until the breaker admits a probe (0: half-open, probes busy). */
  readonly retryAfterMs: number;
  /** The breaker's clock time (`clock.now()`) at which it admits a probe. */
  readonly retryAt: number;

  constructor(retryAfterMs: number, retryAt: number, name = 'circuit') {
    super(
      retryAfterMs > 0
        ? `${name} open: no calls for ${Math.ceil(retryAfterMs)} ms more`
        : `${name} half-open: every probe slot is taken`,
      'ERR_SWITCHYARD_CIRCUIT_OPEN',
    );
    this.retryAfterMs = retryAfterMs;
    this.retryAt = retryAt;
  }

  static {
    CircuitOpenError.prototype.name = 'CircuitOpenError';
  }
}

/**
 * A rate limiter refused the call: no token now, and waiting for one would take longer than its
 * `maxWaitMs`. `retryAfterMs` is when a token would be free for this caller.
 */
export class RateLimitedError extends SwitchyardError {
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number, maxWaitMs: number) {
    super(
      maxWaitMs === 0
        ? `rate limited: next token in ${Math.ceil(retryAfterMs)} ms`
        : `rate limited: next token in ${Math.ceil(retryAfterMs)} ms, longer than maxWaitMs ${maxWaitMs}`,
      'ERR_SWITCHYARD_RATE_LIMITED',
    );
    this.retryAfterMs = retryAfterMs;
  }

  static {
    RateLimitedError.prototype.name = 'RateLimitedError';
  }
}

/** A bulkhead refused the call: every slot runs and its queue is full. */
export class BulkheadRejectedError extends SwitchyardError {
  readonly running: number;
  readonly concurrency: number;
  readonly queued: number;
  readonly queue: number;

  constructor(running: number, concurrency: number, queued: number, queue: number) {
    super(
      `bulkhead full: ${running}/${concurrency} running, ${queued}/${queue} queued`,
      'ERR_SWITCHYARD_BULKHEAD_REJECTED',
    );
    this.running = running;
    this.concurrency = concurrency;
    this.queued = queued;
    this.queue = queue;
  }

  static {
    BulkheadRejectedError.prototype.name = 'BulkheadRejectedError';
  }
}
