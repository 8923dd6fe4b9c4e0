import { SwitchyardError } from '../cancel/errors.ts';

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * A task group's failures, every one of them, in the order they happened. Cancellations of
 * siblings (which the first failure caused) are not failures and are not here. A nested
 * group's failure appears as one `TaskGroupError` inside its parent's `errors`.
 */
export class TaskGroupError extends AggregateError {
  readonly code = 'ERR_SWITCHYARD_TASK_GROUP';
  /** The name of the group that failed. */
  readonly group: string;

  constructor(errors: readonly unknown[], group: string) {
    const count = errors.length === 1 ? '1 task' : `${errors.length} tasks`;
    super(errors, `${count} in task group "${group}" failed; first: ${describe(errors[0])}`);
    this.group = group;
  }

  static {
    TaskGroupError.prototype.name = 'TaskGroupError';
  }
}

/** `spawn()` on a group that has finished, or that is cancelling itself after a failure. */
export class GroupClosedError extends SwitchyardError {
  constructor(message: string) {
    super(message, 'ERR_SWITCHYARD_GROUP_CLOSED');
  }

  static {
    GroupClosedError.prototype.name = 'GroupClosedError';
  }
}
