import type { CpuSource } from './protocol.ts';

export type { CpuSource } from './protocol.ts';

/** Where a piece of work should run. */
export type Lane = 'loop' | 'thread' | 'process';

/**
 * What the figures say the work is:
 * - `io-wait`: it waits (timers, sockets) and holds the loop only briefly → loop;
 * - `too-small`: it computes, but less than sending it to a thread would cost → loop;
 * - `transfer-bound`: cloning its arguments and result costs as much as the work → loop;
 * - `cpu`: it blocks the loop computing → thread;
 * - `blocking`: it blocks the loop without computing (a synchronous wait) → thread;
 * - `leak`, `crash`, `hang`, `out-of-memory`: it must be isolated → process.
 */
export type WorkloadKind =
  | 'io-wait'
  | 'too-small'
  | 'transfer-bound'
  | 'cpu'
  | 'blocking'
  | 'leak'
  | 'crash'
  | 'hang'
  | 'out-of-memory';

/** How the measuring child ended. */
export type AdviseOutcome = 'ok' | 'crashed' | 'hung' | 'out-of-memory';

/** Summary of one figure over the measured calls (warm-up calls excluded). */
export interface Stat {
  median: number;
  mean: number;
  p95: number;
  min: number;
  max: number;
}

export interface CallFigures {
  /** Wall time per call, ms. */
  wallMs: Stat;
  /** CPU time of the thread that ran the call, ms (see `cpuSource`). */
  cpuMs: Stat;
  /** The longest stretch the call kept the event loop from running, ms (net of run-queue waits). */
  blockedMs: Stat;
  /** Time the thread was ready to run but waited for a core (a busy machine), ms. */
  runQueueMs: Stat;
  /** Event-loop utilisation during the call, 0..1. */
  elu: Stat;
  /**
   * CPU time of the child processes the calls started and waited for (an `execSync`'s shell
   * and command), ms per call: the mean over the measured calls (Linux `/proc/self/stat`, 10 ms
   * ticks summed over all of them); 0 where unknown. Not part of `cpuMs`.
   */
  childCpuMs: number;
}

export interface TransferFigures {
  /** Structured-clone size of the argument array, bytes. */
  argsBytes: number;
  /** Structured-clone size of the result, bytes (-1: the result cannot be cloned). */
  resultBytes: number;
  /** serialize + deserialize of both, ms: what one trip to a thread and back costs in copying. */
  cloneMs: number;
  /** False when the result cannot cross a thread boundary as it is. */
  cloneable: boolean;
  /** Why it cannot, when it cannot. */
  error: string | null;
}

export interface MemoryFigures {
  /** Heap used + external after a full GC, after the last call, minus before the first, bytes. */
  retainedBytes: number | null;
  /** Growth per call after warm-up (least-squares slope), bytes; null without enough calls. */
  growthBytesPerCall: number | null;
  /** It keeps growing call after call. */
  leak: boolean;
  /** The child's heap limit, MB. */
  limitMb: number;
}

export interface Failure {
  kind: 'crash' | 'hang' | 'out-of-memory';
  /** 0-based index of the call that died or hung (warm-up calls included). */
  call: number;
  exitCode: number | null;
  signal: string | null;
  /** CPU the thread used during the hang, ms (null where it cannot be read). */
  cpuMs: number | null;
  /** The last lines the child wrote to stderr. */
  stderr: string;
}

export interface Verdict {
  lane: Lane;
  kind: WorkloadKind;
  /** One sentence: the figures behind the verdict and what to do. */
  reason: string;
  notes: string[];
  warnings: string[];
}

/** Calls per second each lane would sustain, from the measured figures. */
export interface LaneEstimate {
  loop: number;
  thread: number;
  process: number;
}

export interface Estimate {
  /** Cores of the machine (`os.availableParallelism()`, or the `cores` option). */
  cores: number;
  /**
   * Cores' worth of CPU this program can get now: measured at advise time by running a fixed
   * CPU burst on one thread and on `cores` threads at once (a shared machine gives less than its
   * core count); the `cores` option when given. CPU-bound estimates use it.
   */
  parallelism: number;
  /** Threads (or processes) the recommended pool should have. */
  threads: number;
  /** Calls in flight assumed on the event loop. */
  concurrency: number;
  lanes: LaneEstimate;
  /** The naive lane: the caller's event loop. */
  baselineCallsPerSec: number;
  recommendedCallsPerSec: number;
  /** recommended / baseline. 1 when the recommendation is the loop. */
  speedup: number;
}

/** The report of `advise()`; `--json` prints exactly this. Schema documented in docs/advise.md. */
export interface Advice {
  schema: 'switchyard.advise';
  /** Bumped on any incompatible change; fields are only added within a version. */
  version: 1;
  target: { module: string; export: string };
  machine: { cores: number; node: string; platform: string; arch: string };
  runs: number;
  warmup: number;
  outcome: AdviseOutcome;
  /** How CPU time was read: one thread (schedstat, threadCpuUsage) or the whole process. */
  cpuSource: CpuSource | null;
  /** Null when no call completed. */
  calls: CallFigures | null;
  /** Null when the child did not get that far. */
  transfer: TransferFigures | null;
  memory: MemoryFigures;
  failure: Failure | null;
  verdict: Verdict;
  /** Null when there is nothing to estimate from (the child died or hung). */
  estimate: Estimate | null;
  /** Every call, warm-up included, as measured. */
  samples: Sample[];
}

export interface Sample {
  warmup: boolean;
  wallMs: number;
  cpuMs: number;
  runQueueMs: number;
  syncMs: number;
  blockedMs: number;
  elu: number;
  instrumentMs: number;
  retainedBytes: number;
}

export interface AdviseOptions {
  /** Measured calls (default 10). */
  runs?: number | undefined;
  /** Calls before those, not summarised: JIT warm-up, lazy initialisation (default 2). */
  warmup?: number | undefined;
  /** A call that takes longer is cut: the child is killed and the report says `hung` (default 10,000). */
  timeoutMs?: number | undefined;
  /** Limit on starting the child and loading the module (default 30,000). */
  loadTimeoutMs?: number | undefined;
  /** The child's V8 heap limit, MB (default 1024): past it the report says `out-of-memory`. */
  maxMemoryMb?: number | undefined;
  /** Calls in flight the event-loop estimate assumes for async work (default 64). */
  concurrency?: number | undefined;
  /**
   * Cores to estimate for. Default: `os.availableParallelism()`, with the parallelism actually
   * available measured (a ~0.2 s CPU burst on that many threads); given, it is taken as is and
   * nothing is measured (deterministic verdicts, e.g. in tests).
   */
  cores?: number | undefined;
  /** Aborting kills the child; the call rejects with the reason. */
  signal?: AbortSignal | undefined;
}
