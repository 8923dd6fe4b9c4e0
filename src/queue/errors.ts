import { SwitchyardError } from '../cancel/index.ts';

/** `putNowait()` found the queue full. */
export class QueueFullError extends SwitchyardError {
  constructor(message = 'queue full') {
    super(message, 'ERR_SWITCHYARD_QUEUE_FULL');
  }

  static {
    QueueFullError.prototype.name = 'QueueFullError';
  }
}

/** `getNowait()` found the queue empty. */
export class QueueEmptyError extends SwitchyardError {
  constructor(message = 'queue empty') {
    super(message, 'ERR_SWITCHYARD_QUEUE_EMPTY');
  }

  static {
    QueueEmptyError.prototype.name = 'QueueEmptyError';
  }
}

/**
 * The queue was shut down: every put is refused, and gets are refused once the queue is empty
 * (at once after `shutdown({ immediate: true })`).
 */
export class QueueShutDownError extends SwitchyardError {
  constructor(message = 'queue shut down') {
    super(message, 'ERR_SWITCHYARD_QUEUE_SHUT_DOWN');
  }

  static {
    QueueShutDownError.prototype.name = 'QueueShutDownError';
  }
}
