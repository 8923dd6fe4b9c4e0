import { ThreadPool } from './thread-pool.ts';

let shared: ThreadPool | undefined;

/**
 * The pool `toThread()` uses, created on first use: `os.availableParallelism()` threads at most,
 * none kept when idle (idle threads stop after 10 s and never hold the process open).
 */
export function defaultThreadPool(): ThreadPool {
  if (shared === undefined || shared.closed) {
    shared = new ThreadPool({ name: 'toThread', idleTimeoutMs: 10_000 });
  }
  return shared;
}

/**
 * Runs `fn(...args)` on a worker thread of the default pool (asyncio's `to_thread`). `fn` must be
 * self-contained: only its source travels, so it sees its parameters and globals, nothing of
 * the scope it was written in — a name it cannot see fails with a ReferenceError naming it.
 * Arguments and the result are structured-cloned. For options (signal, timeouts) use
 * `defaultThreadPool().runFunction(fn, args, options)` or your own pool.
 */
export function toThread<A extends unknown[], R>(
  fn: (...args: A) => R,
  ...args: A
): Promise<Awaited<R>> {
  return defaultThreadPool().runFunction(fn, args);
}
