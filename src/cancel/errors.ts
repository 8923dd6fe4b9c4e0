/**
 * The base of every error switchyard throws. `code` is stable across versions: match on it
 * (or use `instanceof`) rather than on message text, which may improve.
 */
export class SwitchyardError extends Error {
  readonly code: string;

  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }

  static {
    SwitchyardError.prototype.name = 'SwitchyardError';
  }
}

/** A `timeout()`, `deadline()` or policy timeout ran out before the work settled. */
export class TimeoutError extends SwitchyardError {
  /** The time budget in milliseconds that ran out. */
  readonly ms: number;

  constructor(ms: number, message = `timed out after ${ms} ms`) {
    super(message, 'ERR_SWITCHYARD_TIMEOUT');
    this.ms = ms;
  }

  static {
    TimeoutError.prototype.name = 'TimeoutError';
  }
}

/**
 * Work was cancelled by switchyard itself: a sibling task failed, a task was cancelled
 * explicitly, or a scope was closed. It is the `reason` of the aborted signal, so code that
 * rethrows `signal.reason` rethrows this. `cause` holds what triggered it, when there is one.
 */
export class CancelledError extends SwitchyardError {
  constructor(message = 'cancelled', options?: ErrorOptions) {
    super(message, 'ERR_SWITCHYARD_CANCELLED', options);
  }

  static {
    CancelledError.prototype.name = 'CancelledError';
  }
}
