/**
 * The message protocol between a pool and its workers, shared by both sides. Nothing here
 * starts a thread: the worker entry imports it.
 *
 * Everything is batched: the pool sends one `run` message per worker per tick carrying every
 * task it dispatched to that worker, and a worker answers with one `done` message per batch of
 * finished tasks. Per-message cost, not per-task cost, is what limits pools built on
 * postMessage, so the batch is the unit.
 */

/** Main → worker. */
export type ToWorker =
  | {
      t: 'run';
      /** Functions this worker has not seen: [fnId, kind, urlOrSource, exportName, …]. */
      defs: unknown[] | null;
      /** Flat triples: [taskId, fnId, args, taskId, fnId, args, …]. */
      tasks: unknown[];
    }
  | { t: 'abort'; id: number; reason: SerializedError }
  | { t: 'reply'; call: number; ok: boolean; value: unknown };

/** Worker → main. */
export type FromWorker =
  | { t: 'ready' }
  | {
      t: 'done';
      /** Flat quadruples: [taskId, status, value, runMs, …]; status see STATUS_*. */
      results: unknown[];
      /** Heap used after the batch (bytes), sent only when the pool set `maxMemoryMb`. */
      heap: number;
    }
  | { t: 'call'; call: number; name: string; args: unknown[]; sync: boolean }
  | { t: 'fatal'; error: SerializedError };

export const STATUS_OK = 0;
export const STATUS_ERROR = 1;
/** The task was aborted before it started, or rejected with its own taskSignal's reason. */
export const STATUS_CANCELLED = 2;

export const FN_MODULE = 0;
export const FN_SOURCE = 1;

/** How a worker learns its configuration: `workerData` for threads, argv[2] for processes. */
export interface WorkerConfig {
  pool: string;
  kind: 'thread' | 'process';
  /** Send the heap size after each batch (the pool enforces `maxMemoryMb`). */
  reportHeap: boolean;
  /**
   * Threads only: Int32 fields (see FLAG_*): the flag the worker blocks on in `callMainSync`,
   * the count of messages the pool has posted on `taskPort`, and whether the worker is parked.
   */
  syncFlag?: SharedArrayBuffer;
  /** Threads only: where `callMainSync` replies arrive. */
  syncPort?: import('node:worker_threads').MessagePort;
  /**
   * Threads only: where every main → worker message arrives. The pool bumps FLAG_POSTED after
   * each one (and notifies it if the worker is parked), so an idle worker can wait in
   * Atomics.wait instead of its event loop and take the message with receiveMessageOnPort.
   */
  taskPort?: import('node:worker_threads').MessagePort;
}

/** Index in `syncFlag`: set to 1 when a `callMainSync` reply has been posted. */
export const FLAG_SYNC_REPLY = 0;
/** Index in `syncFlag`: messages posted on `taskPort` so far (wraps; only changes matter). */
export const FLAG_POSTED = 1;
/** Index in `syncFlag`: 1 while the worker is (about to be) parked in Atomics.wait on FLAG_POSTED. */
export const FLAG_PARKED = 2;
export const FLAG_FIELDS = 3;

/**
 * Parking (threads): an idle worker waits in Atomics.wait at most this long at a time, then
 * gives its event loop a turn (timers, I/O, messages left behind by finished tasks).
 */
export const PARK_SLICE_MS = 20;
/** Parking: how long after its last task an idle worker keeps parking (then: event loop only). */
export const PARK_FOR_MS = 250;

export interface SerializedError {
  /** Marks the shape, so a plain value that looks alike is not mistaken for it. */
  __error: true;
  name: string;
  message: string;
  stack: string | undefined;
  code: unknown;
  props: Record<string, unknown> | undefined;
  cause: unknown;
  /** Not an Error at all: the thrown value itself, when it could be cloned. */
  value?: unknown;
  nonError?: boolean;
}

const builtins: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

function cloneable(value: unknown): boolean {
  if (value === null) return true;
  const type = typeof value;
  if (type === 'function' || type === 'symbol') return false;
  if (type !== 'object') return true;
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Turns anything thrown into something postMessage can carry, keeping name, message, stack,
 * `code`, `cause` (one level deep per hop, recursively) and own cloneable properties.
 */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) {
    return {
      __error: true,
      name: 'Error',
      message: String(error),
      stack: undefined,
      code: undefined,
      props: undefined,
      cause: undefined,
      nonError: true,
      value: cloneable(error) ? error : String(error),
    };
  }
  let props: Record<string, unknown> | undefined;
  for (const key of Object.keys(error)) {
    if (key === 'code' || key === 'cause') continue;
    const value = (error as unknown as Record<string, unknown>)[key];
    if (!cloneable(value)) continue;
    props ??= {};
    props[key] = value;
  }
  const { cause } = error as { cause?: unknown };
  return {
    __error: true,
    name: error.name,
    message: error.message,
    stack: error.stack,
    code: (error as { code?: unknown }).code,
    props,
    cause:
      cause === undefined
        ? undefined
        : depth < 4 && cause instanceof Error
          ? serializeError(cause, depth + 1)
          : cloneable(cause)
            ? cause
            : String(cause),
  };
}

function isSerialized(value: unknown): value is SerializedError {
  return typeof value === 'object' && value !== null && (value as SerializedError).__error === true;
}

/**
 * Rebuilds an error on this side: the built-in class when it was one (else Error with the
 * original `name`), the worker's stack, `code`, `cause` and properties.
 */
export function deserializeError(
  data: SerializedError,
  nonError: (value: unknown) => Error,
): Error {
  if (data.nonError) return nonError(data.value);
  const Ctor = builtins[data.name] ?? Error;
  const error = new Ctor(data.message);
  if (error.name !== data.name) {
    Object.defineProperty(error, 'name', {
      value: data.name,
      configurable: true,
      writable: true,
      enumerable: false,
    });
  }
  if (data.stack !== undefined) error.stack = data.stack;
  if (data.code !== undefined) (error as { code?: unknown }).code = data.code;
  if (data.cause !== undefined) {
    (error as { cause?: unknown }).cause = isSerialized(data.cause)
      ? deserializeError(data.cause, nonError)
      : data.cause;
  }
  if (data.props) Object.assign(error, data.props);
  return error;
}
