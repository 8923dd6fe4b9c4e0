/**
 * Where `fetch` writes: a SQLite `results` table (one row per input line, upserted by key, in
 * the journal's own transaction so a resumed run never writes a row twice) or JSON Lines.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type Database from 'better-sqlite3';

/** One input line's outcome. `outcome` is `ok` or why it failed. */
export interface FetchResult {
  line: number;
  url: string;
  host: string | null;
  /** ok | invalid | http_error | network | timeout | circuit_open | too_large | redirects | error */
  outcome: string;
  status: number | null;
  error: string | null;
  attempts: number;
  redirects: number;
  finalUrl: string | null;
  contentType: string | null;
  bytes: number | null;
  title: string | null;
  links: string[] | null;
  textLength: number | null;
  sha256: string | null;
  /** `Date.now()` when the first attempt started. */
  startedAt: number;
  /** From the first attempt to the last response, retries and backoff included. */
  durationMs: number;
}

/** The documented schema (docs/cli.md). `key` is the line number, as text. */
export const RESULTS_SCHEMA = `CREATE TABLE IF NOT EXISTS results (
  key          TEXT PRIMARY KEY,
  line         INTEGER NOT NULL,
  url          TEXT NOT NULL,
  host         TEXT,
  outcome      TEXT NOT NULL,
  status       INTEGER,
  error        TEXT,
  attempts     INTEGER NOT NULL,
  redirects    INTEGER NOT NULL,
  final_url    TEXT,
  content_type TEXT,
  bytes        INTEGER,
  title        TEXT,
  links        TEXT,
  link_count   INTEGER,
  text_length  INTEGER,
  sha256       TEXT,
  started_at   INTEGER NOT NULL,
  duration_ms  REAL NOT NULL
)`;

const COLUMNS = [
  'key',
  'line',
  'url',
  'host',
  'outcome',
  'status',
  'error',
  'attempts',
  'redirects',
  'final_url',
  'content_type',
  'bytes',
  'title',
  'links',
  'link_count',
  'text_length',
  'sha256',
  'started_at',
  'duration_ms',
];

/** Appends one row's values, in COLUMNS order, to `out`. */
function pushRow(out: unknown[], key: string | number, r: FetchResult): void {
  out.push(
    String(key),
    r.line,
    r.url,
    r.host,
    r.outcome,
    r.status,
    r.error,
    r.attempts,
    r.redirects,
    r.finalUrl,
    r.contentType,
    r.bytes,
    r.title,
    r.links === null ? null : JSON.stringify(r.links),
    r.links === null ? null : r.links.length,
    r.textLength,
    r.sha256,
    Math.round(r.startedAt),
    r.durationMs,
  );
}

/**
 * Rows per INSERT statement. One statement per row cost a JS → SQLite call, a step and a reset
 * each; 32 rows (608 parameters, far under SQLite's limit) share them (bench/cli/).
 */
const ROWS_PER_STATEMENT = 32;

/** A `TransactionalSink`: with the journal on the same database, rows and done marks commit together. */
export class ResultsSink {
  readonly database: Database.Database;
  readonly #upsert: Database.Statement;
  readonly #upsertMany: Database.Statement;
  readonly #tx: Database.Transaction<
    (batch: readonly { key: string | number; value: unknown }[]) => void
  >;

  constructor(database: Database.Database) {
    this.database = database;
    database.exec(RESULTS_SCHEMA);
    database.exec('CREATE INDEX IF NOT EXISTS results_outcome ON results (outcome)');
    const updates = COLUMNS.slice(1)
      .map((c) => `${c} = excluded.${c}`)
      .join(', ');
    const upsert = (rows: number) =>
      database.prepare(
        `INSERT INTO results (${COLUMNS.join(', ')}) VALUES ${Array.from(
          { length: rows },
          () => `(${COLUMNS.map(() => '?').join(', ')})`,
        ).join(', ')}
         ON CONFLICT (key) DO UPDATE SET ${updates}`,
      );
    this.#upsert = upsert(1);
    this.#upsertMany = upsert(ROWS_PER_STATEMENT);
    // A key twice in one batch: rows are upserted in order, so the later one wins, as before.
    this.#tx = database.transaction((batch) => {
      let i = 0;
      for (; i + ROWS_PER_STATEMENT <= batch.length; i += ROWS_PER_STATEMENT) {
        const values: unknown[] = [];
        for (let j = i; j < i + ROWS_PER_STATEMENT; j++) {
          pushRow(values, batch[j]!.key, batch[j]!.value as FetchResult);
        }
        this.#upsertMany.run(values);
      }
      for (; i < batch.length; i++) {
        const values: unknown[] = [];
        pushRow(values, batch[i]!.key, batch[i]!.value as FetchResult);
        this.#upsert.run(values);
      }
    });
  }

  writeSync(batch: readonly { key: string | number; value: unknown }[]): void {
    if (this.database.inTransaction) this.#tx(batch);
    else this.#tx.immediate(batch);
  }

  write(batch: { key: string | number; value: FetchResult }[]): void {
    this.writeSync(batch);
  }
}

/**
 * JSON Lines, appended: one object per line. At-least-once — after a crash a resumed run may
 * write a line again; readers keep the last line per `line`.
 */
export class JsonlSink {
  readonly #fd: number;

  constructor(path: string, append: boolean) {
    this.#fd = openSync(path, append ? 'a' : 'w');
  }

  write(batch: { key: string | number; value: FetchResult }[]): void {
    let text = '';
    for (const { value } of batch) text += `${JSON.stringify(value)}\n`;
    writeSync(this.#fd, text);
  }

  close(): void {
    closeSync(this.#fd);
  }
}
