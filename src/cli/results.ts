/**
 * Where `fetch` writes: a SQLite `results` table (one row per input line, upserted by key, in
 * the journal's own transaction so a resumed run never writes a row twice) or JSON Lines.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { ChunkedUpsert } from '../pipeline/sqlite-upsert.ts';

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

/** Writes one row's values, in COLUMNS order, into `out` from `at`. */
function rowParams(out: unknown[], at: number, key: string | number, r: FetchResult): void {
  out[at] = String(key);
  out[at + 1] = r.line;
  out[at + 2] = r.url;
  out[at + 3] = r.host;
  out[at + 4] = r.outcome;
  out[at + 5] = r.status;
  out[at + 6] = r.error;
  out[at + 7] = r.attempts;
  out[at + 8] = r.redirects;
  out[at + 9] = r.finalUrl;
  out[at + 10] = r.contentType;
  out[at + 11] = r.bytes;
  out[at + 12] = r.title;
  out[at + 13] = r.links === null ? null : JSON.stringify(r.links);
  out[at + 14] = r.links === null ? null : r.links.length;
  out[at + 15] = r.textLength;
  out[at + 16] = r.sha256;
  out[at + 17] = Math.round(r.startedAt);
  out[at + 18] = r.durationMs;
}

/** Rows per INSERT statement: 32 rows are 608 parameters, far under SQLite's limit. */
const ROWS_PER_STATEMENT = 32;

/** A `TransactionalSink`: with the journal on the same database, rows and done marks commit together. */
export class ResultsSink {
  readonly database: Database.Database;
  readonly #upsert: ChunkedUpsert<{ key: string | number; value: unknown }>;
  readonly #tx: Database.Transaction<
    (batch: readonly { key: string | number; value: unknown }[]) => void
  >;

  constructor(database: Database.Database) {
    this.database = database;
    database.exec(RESULTS_SCHEMA);
    database.exec('CREATE INDEX IF NOT EXISTS results_outcome ON results (outcome)');
    this.#upsert = new ChunkedUpsert(
      database,
      'results',
      COLUMNS,
      ROWS_PER_STATEMENT,
      (out, at, row) => rowParams(out, at, row.key, row.value as FetchResult),
    );
    this.#tx = database.transaction((batch) => this.#upsert.run(batch));
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
