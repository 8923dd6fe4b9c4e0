import { SwitchyardError } from '../cancel/errors.ts';

/**
 * `advise()` could not load the function: the module failed to import, has no such export, or
 * the export is not a function. `cause` holds the child's error (name, message, stack).
 */
export class AdviseLoadError extends SwitchyardError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_SWITCHYARD_ADVISE_LOAD', options);
  }

  static {
    AdviseLoadError.prototype.name = 'AdviseLoadError';
  }
}

/**
 * The measured function threw (or rejected) with the given arguments, so there is nothing to
 * measure. `cause` holds its error; `call` is the 0-based call (warm-up included) that failed.
 */
export class AdviseCallError extends SwitchyardError {
  readonly call: number;

  constructor(message: string, call: number, options?: ErrorOptions) {
    super(message, 'ERR_SWITCHYARD_ADVISE_CALL', options);
    this.call = call;
  }

  static {
    AdviseCallError.prototype.name = 'AdviseCallError';
  }
}
