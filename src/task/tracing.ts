import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Task tracing: `currentTask()` (AsyncLocalStorage) and a recorded spawn site for every task.
 *
 * Why opt-in on Node 20 and 22: there AsyncLocalStorage rests on promise hooks, and merely
 * switching one on makes every promise in the process slower (measured here: bare
 * `Promise.all` over 100k async functions drops from 1.35M to 0.59M per second). Capturing a
 * stack costs about 2.5 µs, more than a whole spawn. So by default switchyard records spawn
 * sites only for *named* tasks — the ones someone will look for — and tracks no context.
 * Node 24 carries async context without hooks (AsyncContextFrame), so there context is on.
 */
export interface TracingOptions {
  /** Track the current task through async context, for `currentTask()`. Default true. */
  context?: boolean;
  /** Record the spawn site of every task, not only named ones. Default true. */
  spawnSites?: boolean;
}

const nodeMajor = Number(process.versions.node.split('.')[0]);
const contextIsCheap = nodeMajor >= 24 && !process.execArgv.includes('--no-async-context-frame');

export const tracing = {
  storage: undefined as AsyncLocalStorage<object> | undefined,
  allSpawnSites: false,
};

if (contextIsCheap) tracing.storage = new AsyncLocalStorage();

/**
 * Switches on `currentTask()` and spawn sites for every task. Call it once at startup, before
 * spawning: tasks spawned earlier carry no context. Costs throughput on promise-heavy code on
 * Node 20/22; switch it on while debugging, or where a request context is on already.
 */
export function enableTaskTracing(options: TracingOptions = {}): void {
  const { context = true, spawnSites = true } = options;
  if (context) tracing.storage ??= new AsyncLocalStorage();
  if (spawnSites) tracing.allSpawnSites = true;
}

/** A spawn site captured now, formatted only when someone reads it. */
export class SpawnSite {
  readonly #holder: { stack?: string } = {};
  #text: string | undefined;

  constructor(below: Function) {
    const limit = Error.stackTraceLimit;
    if (limit < 2) Error.stackTraceLimit = 2;
    Error.captureStackTrace(this.#holder, below);
    if (limit < 2) Error.stackTraceLimit = limit;
  }

  /** The caller's frame, e.g. `crawl (file:///app/crawl.ts:12:8)`. */
  toString(): string {
    if (this.#text === undefined) {
      const lines = (this.#holder.stack ?? '').split('\n');
      this.#text = lines[1]?.trim().replace(/^at /, '') ?? '<unknown>';
    }
    return this.#text;
  }

  /** The whole stack below `spawn()`. */
  get stack(): string {
    return (this.#holder.stack ?? '').split('\n').slice(1).join('\n');
  }
}
