import type { SignalOptions } from '../cancel/options.ts';

/** An item's identity: what the journal records and the sink writes by. */
export type ItemKey = string | number;

/** What a stage function gets besides the item. A fresh object per attempt. */
export interface StageContext {
  /**
   * Aborted when the run stops hard (a second signal, or the drain timeout), and by the stage's
   * policy (a `timeout()` that runs out, a retry abandoned). Pass it to every wait.
   */
  signal: AbortSignal;
  /** The item's key: `key(item)` from `.from()`, else its position in the source. */
  key: ItemKey;
  /** The stage's name. */
  stage: string;
  /** 1 for the first call of this item in this stage, 2 for the first retry, … */
  attempt: number;
}

/** A stage's work: an async function on the event loop (or anything returning a value). */
export type StageFunction<I, O> = (item: I, ctx: StageContext) => O | PromiseLike<O>;

/**
 * A stage function with `lane: 'pool'`: a pool module-handle method such as `w.parse`, called
 * as `fn(item, { signal })` — exactly the trailing `RunOptions` a module handle recognises.
 */
export type PoolTaskFunction<I, O> = (item: I, options: SignalOptions) => PromiseLike<O>;

/** One row for a sink: the item's key and the value the last stage produced. */
export interface SinkRecord<T> {
  key: ItemKey;
  value: T;
}

/**
 * Where items end. `write` gets batches in arrival order and must be idempotent by `key`: after
 * a crash, items whose completion was not yet journaled are written again.
 */
export interface Sink<T> {
  /** `signal` aborts when the run stops hard. */
  write(batch: SinkRecord<T>[], options: SignalOptions): void | PromiseLike<void>;
}

/** A sink given as a plain function. */
export type SinkFunction<T> = (batch: SinkRecord<T>[]) => void | PromiseLike<void>;

/** A failed item: recorded in the report (the first ones) and in the journal (all). */
export interface DeadLetter {
  key: ItemKey;
  /** The stage (or the sink) where it failed, after that stage's policy. */
  stage: string;
  /** The error's `name` (`TypeError`, `TimeoutError`, `CircuitOpenError`, …). */
  errorClass: string;
  message: string;
}

/**
 * How items travel between stages: a bounded FIFO channel. switchyard's `Queue` is one; a
 * Redis/BullMQ transport can implement the same five members later.
 */
export interface StageChannel<T> {
  put(item: T, options?: SignalOptions): Promise<void>;
  get(options?: SignalOptions): Promise<T>;
  getNowait(): T;
  /**
   * Puts stop; gets drain what is left, then reject with `QueueShutDownError`. With
   * `immediate`, what is left is dropped (a hard stop: those items stay pending).
   */
  shutdown(options?: { immediate?: boolean }): void;
  readonly size: number;
  /** Whether `shutdown()` was called: no more items will come. */
  readonly shutDown: boolean;
}

/** The figures of one stage (a `.map` or the `.to` sink). */
export interface StageReport {
  name: string;
  /** Items the stage took from its input. */
  in: number;
  /** Items it finished successfully (for the sink: written and acknowledged). */
  ok: number;
  /** Items that failed here after the policy: dead letters. */
  failed: number;
  /** Calls made beyond the first (policy retries). */
  retried: number;
  /** Items being worked on at the moment the report (or the live snapshot) was taken. */
  inflight: number;
  /** Latency of one call (for the sink: one batch write), milliseconds. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** `ok` per second of the run's wall time. */
  throughputPerSec: number;
  /** Failed items by error class. */
  errorsByClass: Record<string, number>;
}

export interface PipelineTotals {
  /** Items pulled from the source, including those skipped as already finished. */
  read: number;
  /** Items written by the sink (and marked done). */
  ok: number;
  /** Items dead-lettered in this run. */
  failed: number;
  /** Items read but neither done nor failed: interrupted; they stay pending in the journal. */
  pending: number;
  /** Items the journal already had as done or failed: not run again. */
  skipped: number;
  durationMs: number;
  /** Whether the run was stopped by a signal (or its option) before the source was exhausted. */
  interrupted: boolean;
}

/** What `run()` resolves with. `read = ok + failed + pending + skipped` always holds. */
export interface PipelineReport {
  name: string;
  /** The run's id, also in the journal's `run_id` column. */
  runId: string;
  stages: StageReport[];
  totals: PipelineTotals;
  /** The first `MAX_REPORTED_DEAD_LETTERS` (1000) dead letters of this run; the journal has all. */
  deadLetters: DeadLetter[];
}
