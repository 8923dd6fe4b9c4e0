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

/**
 * Item rows are upserted by one statement per `CHUNK` rows (a multi-row `VALUES`), the rest by
 * statements of `SMALL_CHUNK` rows and then one at a time: one statement call per 64 rows
 * instead of one per row, and no per-row arrays or JSON. 64 rows × 3 parameters.
 */
const CHUNK = 64;
const SMALL_CHUNK = 8;

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
   * Buffered leases, in two generations: `#young` since the last timer tick, `#old` from before
   * it. A tick writes only the old ones — items still unfinished a whole `commitIntervalMs`
   * after they were read — and the young become old. A lease still buffered when its item
   * finishes is never written: the done (or failed) row carries its attempt instead. So the
   * steady state is one row write per item, and the lease rows written are the slow items.
   */
  #young = new Set<string>();
  #old = new Set<string>();
  /** Buffered done / failed writes: op, key, attempts to add, dead letter, flattened. */
  #ops: (number | string | DeadLetter | undefined)[] = [];
  #count = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #upsert: Database.Statement;
  readonly #upsertChunk: Database.Statement;
  readonly #upsertSmall: Database.Statement;
  /** Parameters of the chunk being filled: pipeline, run id, time, then (key, state, attempts)×n. */
  readonly #params: unknown[] = new Array(3 + 3 * CHUNK);
  #rows = 0;
  readonly #smallParams: unknown[] = new Array(3 + 3 * SMALL_CHUNK);
  readonly #insertLetter: Database.Statement;
  readonly #finished: Database.Statement;
  readonly #anyFinished: Database.Statement;
  readonly #release: Database.Statement;
  readonly #applyTx: Database.Transaction<(young: boolean) => void>;
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
    this.#upsertChunk = db.prepare(upsertRows(CHUNK));
    this.#upsertSmall = db.prepare(upsertRows(SMALL_CHUNK));
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
    this.#applyTx = db.transaction((young: boolean) => this.#apply(young));
    this.#commitWithTx = db.transaction((keys: readonly string[], write: () => void) => {
      this.#applyOps();
      write();
      this.#startRows(Date.now());
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        this.#row(key, 'done', this.#unlease(key));
      }
      this.#endRows();
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
    // Not counted towards `commitEvery`: the sets hold only items in flight (finishing one
    // removes it), and the timer writes those that are still running.
    this.#young.add(key);
    this.#arm();
  }

  done(key: string): void {
    this.#push(OP_DONE, key, undefined);
  }

  fail(key: string, letter: DeadLetter): void {
    this.#push(OP_FAIL, key, letter);
  }

  /** Commits every buffered write, the young leases too. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#commit(true);
  }

  commitWith(keys: readonly string[], write: () => void): void {
    this.#commitWithTx.immediate(keys, write);
    this.#ops = [];
    this.#count = 0;
    this.commits++;
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

  /** 1 if `key`'s lease was still buffered (its attempt goes on the finished row), else 0. */
  #unlease(key: string): number {
    return this.#young.delete(key) || this.#old.delete(key) ? 1 : 0;
  }

  #push(op: number, key: string, letter: DeadLetter | undefined): void {
    this.#ops.push(op, key, this.#unlease(key), letter);
    // By count: the done / failed writes and the old leases; the young ones can wait.
    if (++this.#count >= this.#commitEvery) this.#commit(false);
    else this.#arm();
  }

  /**
   * Commits the buffered done / failed writes and the old leases (the young ones too, if
   * `young`). Forgets them only once their transaction committed: after a rollback they stay
   * buffered for the next commit.
   */
  #commit(young: boolean): void {
    if (this.#count === 0 && this.#old.size === 0 && !(young && this.#young.size > 0)) return;
    this.#applyTx.immediate(young);
    this.#ops = [];
    this.#count = 0;
    this.#old.clear();
    if (young) this.#young.clear();
    this.commits++;
  }

  /** The timer: commits the done / failed writes and the old leases; the young become old. */
  #tick(): void {
    this.#commit(false);
    const old = this.#old; // empty now
    this.#old = this.#young;
    this.#young = old;
  }

  /** Keeps a timer pending while anything is buffered. */
  #arm(): void {
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        try {
          this.#tick();
        } catch {
          // The writes stay buffered; the next commit (by count, or at the end of the run,
          // where the error surfaces) retries them. A timer must not throw uncaught.
        }
        if (this.#count > 0 || this.#old.size > 0 || this.#young.size > 0) this.#arm();
      }, this.#intervalMs);
      this.#timer.unref();
    }
  }

  /** Applies the buffered writes and old leases (young ones too, if `young`); inside a transaction. */
  #apply(young: boolean): void {
    const now = Date.now();
    this.#startRows(now);
    for (const key of this.#old) this.#row(key, 'leased', 1);
    if (young) for (const key of this.#young) this.#row(key, 'leased', 1);
    this.#applyOps(now, true);
  }

  /**
   * Applies the buffered done / failed writes; inside a transaction. `started`: rows were
   * started by the caller (`#startRows`) and are ended here.
   */
  #applyOps(now = Date.now(), started = false): void {
    const ops = this.#ops;
    if (!started) {
      if (ops.length === 0) return;
      this.#startRows(now);
    }
    let letters = false;
    for (let i = 0; i < ops.length; i += 4) {
      const failed = ops[i] === OP_FAIL;
      letters ||= failed;
      this.#row(ops[i + 1] as string, failed ? 'failed' : 'done', ops[i + 2] as number);
    }
    this.#endRows();
    if (!letters) return;
    const pipeline = this.#pipeline;
    const runId = this.#runId;
    for (let i = 0; i < ops.length; i += 4) {
      if (ops[i] !== OP_FAIL) continue;
      const letter = ops[i + 3] as DeadLetter;
      this.#insertLetter.run(
        pipeline,
        ops[i + 1] as string,
        letter.stage,
        letter.errorClass,
        letter.message,
        runId,
        now,
      );
    }
  }

  /** Starts a run of item upserts stamped with `now` (then `#row` each, then `#endRows`). */
  #startRows(now: number): void {
    const params = this.#params;
    params[0] = this.#pipeline;
    params[1] = this.#runId;
    params[2] = now;
    this.#rows = 0;
  }

  /** Upserts one item row: buffered into the current chunk, written when it is full. */
  #row(key: string, state: string, attempts: number): void {
    const params = this.#params;
    const at = 3 + 3 * this.#rows;
    params[at] = key;
    params[at + 1] = state;
    params[at + 2] = attempts;
    if (++this.#rows === CHUNK) {
      this.#upsertChunk.run(params);
      this.#rows = 0;
    }
  }

  /** Writes the rows left in the chunk, in order: by `SMALL_CHUNK`s, then one at a time. */
  #endRows(): void {
    const params = this.#params;
    const rows = this.#rows;
    this.#rows = 0;
    let i = 0;
    if (rows >= SMALL_CHUNK) {
      const small = this.#smallParams;
      small[0] = params[0];
      small[1] = params[1];
      small[2] = params[2];
      for (; i + SMALL_CHUNK <= rows; i += SMALL_CHUNK) {
        for (let j = 0; j < 3 * SMALL_CHUNK; j++) small[3 + j] = params[3 + 3 * i + j];
        this.#upsertSmall.run(small);
      }
    }
    for (; i < rows; i++) {
      const at = 3 + 3 * i;
      this.#upsert.run(params[0], params[at], params[at + 1], params[1], params[at + 2], params[2]);
    }
  }
}

/**
 * An upsert of `rows` item rows in one statement. Parameters: pipeline, run id, time, then
 * (key, state, attempts) per row. A key given twice conflicts with its own earlier row, which
 * the `DO UPDATE` then updates: the same result as two statements.
 */
function upsertRows(rows: number): string {
  return `INSERT INTO switchyard_items (pipeline, key, state, run_id, attempts, updated_at)
    SELECT r.pipeline, v.column1, v.column2, r.run_id, v.column3, r.now
    FROM (SELECT ? AS pipeline, ? AS run_id, ? AS now) AS r,
         (VALUES ${Array(rows).fill('(?, ?, ?)').join(', ')}) AS v
    WHERE true
    ON CONFLICT (pipeline, key) DO UPDATE SET
      state = excluded.state, run_id = excluded.run_id,
      attempts = attempts + excluded.attempts, updated_at = excluded.updated_at`;
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
