import type { DeadLetter } from './types.ts';

/** What the journal knew about a pipeline when a run began. */
export interface JournalBegin {
  /** Whether any item is already done or failed: if not, the run looks nothing up. */
  hasFinished: boolean;
}

/**
 * The pipeline's durable record of item states, behind the smallest interface the runtime
 * needs, so that a Redis/BullMQ journal can come later. Keys are strings here (the runtime
 * passes `String(key)`).
 *
 * States: `leased` (read by a live run), `done`, `failed` (with a dead letter), and `pending`
 * (read, not finished, no run holds it: after a shutdown). A re-run skips `done` and `failed`
 * keys and runs every other one again — a `leased` key left by a crashed run included.
 *
 * Writes (`lease`, `done`, `fail`) may be buffered (group commit); `flush()` makes them durable.
 * Every method may be synchronous or return a promise.
 */
export interface Journal {
  /** A run of `pipeline` starts; `runId` is unique to it. */
  begin(pipeline: string, runId: string): JournalBegin | Promise<JournalBegin>;
  /** Whether `key` is done or failed already (only asked when `begin` said some are). */
  isFinished(key: string): boolean | Promise<boolean>;
  /** `key` was read by this run. */
  lease(key: string): void;
  /** `key` went through every stage and the sink. */
  done(key: string): void;
  /** `key` failed: record the dead letter. */
  fail(key: string, letter: DeadLetter): void;
  /** Makes every buffered write durable. */
  flush(): void | Promise<void>;
  /**
   * The run is over: flush, and turn this run's leases that did not finish back to `pending`.
   */
  end(): void | Promise<void>;
  /**
   * Optional: runs `write` (the sink's write) and marks `keys` done in ONE atomic commit, so a
   * crash either keeps both or neither. The runtime uses it when the sink says it can share the
   * journal's transaction (see `TransactionalSink`).
   */
  commitWith?(keys: readonly string[], write: () => void): void;
}

/**
 * A sink that can write inside the journal's transaction. `sqliteSink` is one: when its
 * `database` is the journal's `database`, the runtime calls `journal.commitWith`.
 */
export interface TransactionalSink {
  /** The storage the sink writes to; compared by identity with the journal's. */
  readonly database: unknown;
  /** Writes synchronously (inside the caller's transaction when there is one). */
  writeSync(batch: readonly { key: string | number; value: unknown }[]): void;
}

/** Whether `sink` can share `journal`'s transaction. */
export function sharesTransaction(
  journal: Journal | undefined,
  sink: unknown,
): sink is TransactionalSink {
  if (journal === undefined || typeof journal.commitWith !== 'function') return false;
  if (sink === null || typeof sink !== 'object') return false;
  const database = (sink as Partial<TransactionalSink>).database;
  return (
    database !== undefined &&
    typeof (sink as Partial<TransactionalSink>).writeSync === 'function' &&
    database === (journal as { database?: unknown }).database
  );
}
