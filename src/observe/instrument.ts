import type { QueueStats } from '../queue/index.ts';
import type { SemaphoreStats } from '../sync/index.ts';
import type { Metrics, SourceReading } from './metrics.ts';

export interface InstrumentOptions {
  /** The `component` label of the series. */
  name: string;
}

/** Stops the reporting of an instrumented object; `[Symbol.dispose]` does the same. */
export interface Instrumentation extends Disposable {
  readonly name: string;
  close(): void;
}

function instrument(
  where: string,
  target: unknown,
  metrics: Metrics,
  options: InstrumentOptions,
  read: () => SourceReading,
): Instrumentation {
  if (
    typeof target !== 'object' ||
    target === null ||
    typeof (target as { stats?: unknown }).stats !== 'function'
  ) {
    throw new TypeError(`${where}: the first argument must have a stats() method`);
  }
  const name = options?.name;
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`${where}: name must be a non-empty string, got ${String(name)}`);
  }
  const component = metrics.component(name);
  if (component.source !== undefined) {
    throw new Error(`${where}: name '${name}' already reports a live object; close that first`);
  }
  component.source = read;
  const close = () => {
    if (component.source === read) component.source = undefined;
  };
  return { name, close, [Symbol.dispose]: close };
}

/**
 * Reports a queue's depth as `switchyard_queue_depth{component=name}` (items in it) and
 * `switchyard_inflight{component=name}` (items taken but not yet `taskDone()`). The queue is read
 * through its public `stats()` only when someone scrapes or snapshots: nothing is added to
 * `put`/`get`.
 */
export function instrumentQueue(
  queue: { stats(): QueueStats },
  metrics: Metrics,
  options: InstrumentOptions,
): Instrumentation {
  return instrument('instrumentQueue', queue, metrics, options, () => {
    const s = queue.stats();
    return { queueDepth: s.size, inflight: Math.max(0, s.unfinishedTasks - s.size) };
  });
}

/**
 * Reports a semaphore (or a Lock, which has the same stats) as `switchyard_inflight` (permits
 * held) and `switchyard_queue_depth` (callers waiting for one), read through `stats()` at scrape
 * time only.
 */
export function instrumentSemaphore(
  semaphore: { stats(): SemaphoreStats },
  metrics: Metrics,
  options: InstrumentOptions,
): Instrumentation {
  return instrument('instrumentSemaphore', semaphore, metrics, options, () => {
    const s = semaphore.stats();
    return { queueDepth: s.waiting, inflight: Math.max(0, s.permits - s.available) };
  });
}
