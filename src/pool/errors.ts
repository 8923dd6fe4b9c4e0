import { SwitchyardError } from '../cancel/index.ts';

/** What took a worker down, as far as the pool could tell. */
export type CrashLimit = 'heap' | 'stack' | 'memory';

export interface WorkerCrashedDetails {
  /** The pool's name. */
  pool: string;
  /** The thread id (ThreadPool) or process id (ProcessPool) of the worker that died. */
  workerId: number;
  /** The exit code, when the worker exited with one. */
  exitCode: number | null;
  /** The signal that killed a child process (`'SIGKILL'`, …); always null for threads. */
  signal: NodeJS.Signals | null;
  /** The resource limit it hit, when it hit one. */
  limit: CrashLimit | null;
  /** The uncaught error that took it down, when there was one. */
  cause?: unknown;
}

/**
 * The worker running a task died under it: it exited, threw outside a task, was killed, or hit
 * a resource limit. The task may or may not have done its side effects. The pool replaces the
 * worker; tasks that had not started on it are re-queued, not rejected.
 */
export class WorkerCrashedError extends SwitchyardError {
  readonly pool: string;
  readonly workerId: number;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly limit: CrashLimit | null;

  constructor(details: WorkerCrashedDetails) {
    const how =
      details.limit !== null
        ? `hit its ${details.limit} limit`
        : details.signal !== null
          ? `was killed by ${details.signal}`
          : details.cause !== undefined
            ? `threw outside a task (${describe(details.cause)})`
            : `exited with code ${details.exitCode}`;
    const exit =
      details.limit !== null || details.cause !== undefined
        ? ` (exit code ${details.exitCode}${details.signal ? `, signal ${details.signal}` : ''})`
        : '';
    super(
      `${details.pool}: worker ${details.workerId} ${how}${exit} while running this task`,
      'ERR_SWITCHYARD_WORKER_CRASHED',
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.pool = details.pool;
    this.workerId = details.workerId;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.limit = details.limit;
  }

  static {
    WorkerCrashedError.prototype.name = 'WorkerCrashedError';
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * A shared resource can no longer be trusted: a `SharedMutex` whose holder died while holding
 * it (trio's rule for locks). Every later acquire gets this error too.
 */
export class BrokenResourceError extends SwitchyardError {
  constructor(message = 'resource broken') {
    super(message, 'ERR_SWITCHYARD_BROKEN_RESOURCE');
  }

  static {
    BrokenResourceError.prototype.name = 'BrokenResourceError';
  }
}

/**
 * The pool is closed (or closing): `run()` refuses new work. After `close({ force: true })` it
 * is also the reason every queued and running task is rejected with.
 */
export class PoolClosedError extends SwitchyardError {
  constructor(message = 'pool closed') {
    super(message, 'ERR_SWITCHYARD_POOL_CLOSED');
  }

  static {
    PoolClosedError.prototype.name = 'PoolClosedError';
  }
}

/**
 * A task threw (or rejected) inside the worker with something that was not an Error: the value
 * is in `value`. Errors thrown in a worker come back as errors of their own class where it is a
 * built-in one (TypeError, RangeError, …), with the worker's message, stack, `code` and own
 * cloneable properties.
 */
export class RemoteValueError extends SwitchyardError {
  readonly value: unknown;

  constructor(value: unknown) {
    super(`task threw a non-Error value: ${String(value)}`, 'ERR_SWITCHYARD_REMOTE_VALUE');
    this.value = value;
  }

  static {
    RemoteValueError.prototype.name = 'RemoteValueError';
  }
}
