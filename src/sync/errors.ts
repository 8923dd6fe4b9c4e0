import { SwitchyardError } from '../cancel/index.ts';

/**
 * A `Barrier` was broken by `abort()` or `reset()` while this party waited, or is broken (after
 * `abort()`) when this party arrived.
 */
export class BrokenBarrierError extends SwitchyardError {
  constructor(message = 'barrier broken') {
    super(message, 'ERR_SWITCHYARD_BROKEN_BARRIER');
  }

  static {
    BrokenBarrierError.prototype.name = 'BrokenBarrierError';
  }
}
