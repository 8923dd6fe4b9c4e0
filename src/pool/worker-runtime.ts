/**
 * The worker-side API (`switchyard/worker`): what code running inside a pool task can ask for.
 * It talks to the worker entry through one object on `globalThis`, so that every copy of this
 * module (the package's, a bundled one, a `.ts` one under tsx) sees the same worker. Importing
 * it anywhere is harmless: it starts nothing.
 */

/** The task the worker is running, as the runtime tracks it. */
export interface TaskContext {
  readonly id: number;
  /** Created on the first `taskSignal()` call: most tasks never ask. */
  controller: AbortController | null;
  aborted: boolean;
  reason: unknown;
}

/** What the worker entry installs on globalThis. */
export interface WorkerRuntime {
  kind: 'thread' | 'process';
  pool: string;
  current: TaskContext | null;
  callMain(name: string, args: unknown[]): Promise<unknown>;
  callMainSync(name: string, args: unknown[]): unknown;
}

export const RUNTIME = Symbol.for('switchyard.worker.runtime');

function runtime(where: string): WorkerRuntime {
  const found = (globalThis as { [RUNTIME]?: WorkerRuntime })[RUNTIME];
  if (found === undefined) {
    throw new Error(`${where}: not inside a switchyard pool worker`);
  }
  return found;
}

/** Whether this code runs inside a switchyard pool worker (thread or process). */
export function inPoolWorker(): boolean {
  return (globalThis as { [RUNTIME]?: WorkerRuntime })[RUNTIME] !== undefined;
}

/**
 * The signal of the task this worker is running: it aborts when the caller's signal aborts or
 * the task's `timeoutMs` runs out, with (a copy of) that reason. A worker runs one task at a
 * time, so call it while your task runs (its first line is the safe place); called outside a
 * task, it throws.
 */
export function taskSignal(): AbortSignal {
  const task = runtime('taskSignal()').current;
  if (task === null) throw new Error('taskSignal(): no pool task is running on this worker');
  if (task.controller === null) {
    task.controller = new AbortController();
    if (task.aborted) task.controller.abort(task.reason);
  }
  return task.controller.signal;
}

/**
 * Calls the handler the pool registered as `mainHandlers[name]` on the main thread, with `args`
 * (structured-cloned), and resolves with its result. A handler's error comes back as an error
 * with its message and stack. Works in ThreadPool and ProcessPool workers.
 */
export function callMain<T = unknown>(name: string, ...args: unknown[]): Promise<T> {
  try {
    return runtime('callMain()').callMain(name, args) as Promise<T>;
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Like `callMain`, but blocks this worker thread (Atomics.wait) until the main thread's handler
 * has settled — for legacy synchronous code that cannot await. The main thread's event loop
 * keeps running meanwhile. ThreadPool workers only: a child process cannot share the memory it
 * would block on, so in a ProcessPool it throws.
 */
export function callMainSync<T = unknown>(name: string, ...args: unknown[]): T {
  return runtime('callMainSync()').callMainSync(name, args) as T;
}
