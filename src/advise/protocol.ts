/**
 * The messages between `advise()` and its measuring child process (IPC with the structured-clone
 * serialization). Types only: both sides import this file, and it starts nothing.
 */

/** Parent → child, once. */
export interface StartMessage {
  type: 'start';
  moduleUrl: string;
  exportName: string;
  args: unknown[];
  runs: number;
  warmup: number;
}

/** One call, as the child measured it. Times in milliseconds. */
export interface RawSample {
  /** Warm-up calls are measured too, but not summarised. */
  warmup: boolean;
  wallMs: number;
  /** CPU time of the thread that ran the function (see `cpuSource`). */
  cpuMs: number;
  /** Time the thread was runnable but waiting for a core (Linux schedstat); 0 when unknown. */
  runQueueMs: number;
  /** The synchronous part: from the call until it returned (a value or a promise). */
  syncMs: number;
  /** The longest stretch the event loop could not run, net of run-queue waits. */
  blockedMs: number;
  /** The share of the call's wall time the event loop was busy, 0..1 (the ticker's own work excluded). */
  elu: number;
  /**
   * Time the measuring ticker spent in its own readings while an asynchronous call was pending,
   * ms: already taken off `cpuMs` and `elu`. 0 for a synchronous call.
   */
  instrumentMs: number;
  /** Heap used + external memory after a full GC, after the call (bytes; -1 without GC). */
  retainedBytes: number;
}

/** `thread`: process.threadCpuUsage(); `process`: process.cpuUsage() of the measuring child. */
export type CpuSource = 'thread' | 'process';

export interface CloneCost {
  /** Structured-clone size in bytes (v8.serialize, what postMessage uses); -1 if not cloneable. */
  bytes: number;
  /** serialize + deserialize, milliseconds. */
  ms: number;
  /** Why it could not be cloned, when it could not. */
  error?: string | undefined;
}

/** Child → parent. */
export type ChildMessage =
  | { type: 'loaded'; cpuSource: CpuSource; baselineRetainedBytes: number }
  | { type: 'load-error'; error: unknown }
  | { type: 'sample'; index: number; sample: RawSample }
  | { type: 'threw'; index: number; error: unknown }
  | {
      type: 'done';
      args: CloneCost;
      result: CloneCost;
      /** CPU of waited-for child processes over the measured calls, ms (10 ms ticks); -1 unknown. */
      childCpuMs: number;
    };
