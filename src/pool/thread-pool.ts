import { Pool, type PoolOptions } from './pool.ts';
import { processTransport, threadTransport } from './transport.ts';

/**
 * A pool of worker threads for CPU-heavy or blocking code (Python's ThreadPoolExecutor, with
 * real parallelism). Tasks are exported functions of modules: `pool.run(url, 'name', args)` or
 * `pool.module<typeof import('./w.ts')>(url).name(...args)`.
 */
export class ThreadPool extends Pool {
  constructor(options: PoolOptions = {}) {
    super('ThreadPool', threadTransport, options);
  }
}

/**
 * The same pool over child processes (Python's ProcessPoolExecutor): isolation — a crash,
 * a leak or `process.exit` cannot touch the parent — at the cost of copying every message.
 * Differences from ThreadPool: `transfer` copies instead of moving, SharedArrayBuffer-based
 * objects cannot be passed, and `callMainSync` is unavailable (use `callMain`).
 */
export class ProcessPool extends Pool {
  constructor(options: PoolOptions = {}) {
    super('ProcessPool', processTransport, options);
  }
}
