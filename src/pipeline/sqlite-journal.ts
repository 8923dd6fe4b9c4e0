import Database from 'better-sqlite3';
import { checkDuration } from '../cancel/options.ts';
import type { Journal, JournalBegin } from './journal.ts';
import type { DeadLetter } from './types.ts';

type Db = Database.Database;

export interface SqliteJournalOptions {
  /** Buffered writes that trigger a commit. Default 1000. */
  commitEvery?: number | undefined;
  /** Longest a buffered write waits for its commit, milliseconds. Default 50. */
  commitIntervalMs?: number | undefined;
  /** SQLite `busy_timeout`, milliseconds: how long to wait for another connection's lock. Default 5000. */
  busyTimeoutMs?: number | undefined;
  /**
   * SQLite `synchronous`. Default `'NORMAL'`: with WAL a commit survives a process crash
   * (SIGKILL), not a power cut; `'FULL'` survives both and costs an fsync per commit.
   */
  synchronous?: 'OFF' | 'NORMAL' | 'FULL' | undefined;
}

const OP_DONE = 1;
const OP_FAIL = 2;

/** The tables, in whatever database the journal is given. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS switchyard_items (
  pipeline TEXT NOT NULL,
  key TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'leased', 'done', 'failed')),
  run_id TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (pipeline, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS switchyard_dead_letters (
  id INTEGER PRIMARY KEY,
  pipeline TEXT NOT NULL,
  key TEXT NOT NULL,
  stage TEXT NOT NULL,
  error_class TEXT NOT NULL,
  message TEXT NOT NULL,
  run_id TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS switchyard_dead_letters_key ON switchyard_dead_letters (pipeline, key);
`;

/**
 * The SQLite journal (better-sqlite3): WAL, a busy timeout, `BEGIN IMMEDIATE` transactions, and
 * group commit — writes are buffered and committed together every `commitEvery` writes or
 * `commitIntervalMs`, and at the end of a run. better-sqlite3 is synchronous, so a transaction
 * per item would stall the event loop; one per thousand costs a few milliseconds.
 *
 * Tables: `switchyard_items (pipeline, key, state, run_id, attempts, updated_at)` and
 * `switchyard_dead_letters (pipeline, key, stage, error_class, message, run_id, at)`.
 */
export class SqliteJournal implements Journal, Disposable {
  /** The connection; a `sqliteSink` on the same one commits its rows with the done marks. */
  readonly database: Db;
  readonly #owned: boolean;
  readonly #commitEvery: number;
  readonly #intervalMs: number;
  #pipeline = '';
  #runId = '';
  /**
   * Buffered leases. A lease still buffered when its item finishes is never written: the done
   * (or failed) row carries its attempt instead — one row write per item in the steady state.
   */
  #leases = new Set<string>();
  /** Buffered done / failed writes: op, key, attempts to add, dead letter, flattened. */
  #ops: (number | string | DeadLetter | undefined)[] = [];
  #count = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #upsert: Database.Statement;
  readonly #doneMany: Database.Statement;
  readonly #insertLetter: Database.Statement;
  readonly #finished: Database.Statement;
  readonly #anyFinished: Database.Statement;
  readonly #release: Database.Statement;
  readonly #applyTx: Database.Transaction<(leases: boolean) => void>;
  readonly #commitWithTx: Database.Transaction<
    (keys: readonly string[], write: () => void) => void
  >;
  /** Transactions committed: exposed for tests and tuning. */
  commits = 0;

  constructor(pathOrDatabase: string | Db, options: SqliteJournalOptions = {}) {
    const {
      commitEvery = 1000,
      commitIntervalMs = 50,
      busyTimeoutMs = 5000,
      synchronous = 'NORMAL',
    } = options;
    if (!Number.isInteger(commitEvery) || commitEvery < 1) {
      throw new RangeError(
        `sqliteJournal: commitEvery must be an integer >= 1, got ${commitEvery}`,
      );
    }
    checkDuration('sqliteJournal', 'commitIntervalMs', commitIntervalMs);
    checkDuration('sqliteJournal', 'busyTimeoutMs', busyTimeoutMs);
    if (!['OFF', 'NORMAL', 'FULL'].includes(synchronous)) {
      throw new RangeError(
        `sqliteJournal: synchronous must be OFF, NORMAL or FULL, got ${synchronous}`,
      );
    }
    this.#commitEvery = commitEvery;
    this.#intervalMs = commitIntervalMs;
    if (typeof pathOrDatabase === 'string') {
      this.database = new Database(pathOrDatabase);
      this.#owned = true;
    } else if (pathOrDatabase !== null && typeof pathOrDatabase === 'object') {
      this.database = pathOrDatabase;
      this.#owned = false;
    } else {
      throw new TypeError(
        `sqliteJournal: expected a file path or a better-sqlite3 Database, got ${typeof pathOrDatabase}`,
      );
    }
    const db = this.database;
    db.pragma(`busy_timeout = ${Math.round(busyTimeoutMs)}`);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.exec(SCHEMA);
    this.#upsert = db.prepare(
      `INSERT INTO switchyard_items (pipeline, key, state, run_id, attempts, updated_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (pipeline, key) DO UPDATE SET
         state = excluded.state, run_id = excluded.run_id,
         attempts = attempts + excluded.attempts, updated_at = excluded.updated_at`,
    );
    // One statement for a whole batch of done marks: [[key, attempts], …] as JSON.
    this.#doneMany = db.prepare(
      `INSERT INTO switchyard_items (pipeline, key, state, run_id, attempts, updated_at)
       SELECT ?, j.value ->> 0, 'done', ?, j.value ->> 1, ? FROM json_each(?) AS j WHERE true
       ON CONFLICT (pipeline, key) DO UPDATE SET
         state = 'done', run_id = excluded.run_id,
         attempts = attempts + excluded.attempts, updated_at = excluded.updated_at`,
    );
    this.#insertLetter = db.prepare(
      `INSERT INTO switchyard_dead_letters (pipeline, key, stage, error_class, message, run_id, at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#finished = db
      .prepare(
        `SELECT 1 FROM switchyard_items WHERE pipeline = ? AND key = ? AND state IN ('done', 'failed')`,
      )
      .pluck();
    this.#anyFinished = db
      .prepare(
        `SELECT 1 FROM switchyard_items WHERE pipeline = ? AND state IN ('done', 'failed') LIMIT 1`,
      )
      .pluck();
    this.#release = db.prepare(
      `UPDATE switchyard_items SET state = 'pending', updated_at = ?
       WHERE pipeline = ? AND run_id = ? AND state = 'leased'`,
    );
    this.#applyTx = db.transaction((leases: boolean) => this.#apply(leases));
    this.#commitWithTx = db.transaction((keys: readonly string[], write: () => void) => {
      this.#apply(false);
      write();
      const marks = keys.map((key) => [key, this.#leases.delete(key) ? 1 : 0]);
      this.#doneMany.run(this.#pipeline, this.#runId, Date.now(), JSON.stringify(marks));
    });
  }

  begin(pipeline: string, runId: string): JournalBegin {
    this.#pipeline = pipeline;
    this.#runId = runId;
    return { hasFinished: this.#anyFinished.get(pipeline) !== undefined };
  }

  isFinished(key: string): boolean {
    return this.#finished.get(this.#pipeline, key) !== undefined;
  }

  lease(key: string): void {
    // Not counted towards `commitEvery`: the set holds only items in flight (finishing one
    // removes it), and the timer writes those that are still running.
    this.#leases.add(key);
    this.#arm();
  }

  done(key: string): void {
    this.#push(OP_DONE, key, undefined);
  }

  fail(key: string, letter: DeadLetter): void {
    this.#push(OP_FAIL, key, letter);
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#count === 0 && this.#leases.size === 0) return;
    this.#applyTx.immediate(true);
    this.#clear();
    this.commits++;
  }

  commitWith(keys: readonly string[], write: () => void): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#commitWithTx.immediate(keys, write);
    this.#ops = [];
    this.#count = 0;
    this.commits++;
    if (this.#leases.size > 0) this.#arm();
  }

  end(): void {
    this.flush();
    this.#release.run(Date.now(), this.#pipeline, this.#runId);
  }

  /** Flushes, and closes the database if the journal opened it. Idempotent. */
  close(): void {
    if (!this.database.open) return;
    this.flush();
    if (this.#owned) this.database.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #push(op: number, key: string, letter: DeadLetter | undefined): void {
    this.#ops.push(op, key, this.#leases.delete(key) ? 1 : 0, letter);
    this.#buffered();
  }

  #buffered(): void {
    if (++this.#count >= this.#commitEvery) this.flush();
    else this.#arm();
  }

  #arm(): void {
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        try {
          this.flush();
        } catch {
          // The writes stay buffered; the next commit (by count, or at the end of the run,
          // where the error surfaces) retries them. A timer must not throw uncaught.
        }
      }, this.#intervalMs);
      this.#timer.unref();
    }
  }

  /** Forgets the buffered writes once their transaction committed (kept if it rolled back). */
  #clear(): void {
    this.#ops = [];
    this.#leases.clear();
    this.#count = 0;
  }

  /** Applies the buffered writes (the leases too, if `leases`); runs inside a transaction. */
  #apply(leases: boolean): void {
    const pipeline = this.#pipeline;
    const runId = this.#runId;
    const now = Date.now();
    if (leases) {
      for (const key of this.#leases) this.#upsert.run(pipeline, key, 'leased', runId, 1, now);
    }
    const ops = this.#ops;
    for (let i = 0; i < ops.length; i += 4) {
      const op = ops[i] as number;
      const key = ops[i + 1] as string;
      const attempts = ops[i + 2] as number;
      if (op === OP_DONE) {
        this.#upsert.run(pipeline, key, 'done', runId, attempts, now);
      } else {
        const letter = ops[i + 3] as DeadLetter;
        this.#upsert.run(pipeline, key, 'failed', runId, attempts, now);
        this.#insertLetter.run(
          pipeline,
          key,
          letter.stage,
          letter.errorClass,
          letter.message,
          runId,
          now,
        );
      }
    }
  }
}

/**
 * The SQLite journal on a file path (opened here, closed by `close()`) or on an open
 * better-sqlite3 `Database` (yours to close; share it with a `sqliteSink` for exactly-once).
 */
export function sqliteJournal(
  pathOrDatabase: string | Db,
  options?: SqliteJournalOptions,
): SqliteJournal {
  return new SqliteJournal(pathOrDatabase, options);
}
