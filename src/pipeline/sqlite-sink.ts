import type Database from 'better-sqlite3';
import type { TransactionalSink } from './journal.ts';
import { ChunkedUpsert } from './sqlite-upsert.ts';
import type { Sink, SinkRecord } from './types.ts';

export interface SqliteSinkOptions<T> {
  /** An open better-sqlite3 `Database`. Give the journal the same one for exactly-once. */
  database: Database.Database;
  /** The table; created as `(key TEXT PRIMARY KEY, value)` if missing. */
  table: string;
  /**
   * Turns a value into what SQLite stores. Default: strings, numbers, bigints, Buffers and null
   * as they are, anything else as JSON text.
   */
  serialize?: ((value: T) => unknown) | undefined;
}

const CHUNK = 64;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function defaultSerialize(value: unknown): unknown {
  if (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    Buffer.isBuffer(value)
  ) {
    return value;
  }
  return value === undefined ? null : JSON.stringify(value);
}

/**
 * A sink writing `{ key, value }` rows idempotently by key (`INSERT … ON CONFLICT(key) DO
 * UPDATE`): writing an item again replaces its row, never duplicates it. Each batch is one
 * transaction — or part of the journal's, when the journal uses the same `database`.
 */
export class SqliteSink<T> implements Sink<T>, TransactionalSink {
  readonly database: Database.Database;
  readonly table: string;
  readonly #upsert: ChunkedUpsert<SinkRecord<unknown>>;
  readonly #writeTx: Database.Transaction<(batch: readonly SinkRecord<unknown>[]) => void>;

  constructor(options: SqliteSinkOptions<T>) {
    const { database, table, serialize } = options ?? ({} as SqliteSinkOptions<T>);
    if (
      database === null ||
      typeof database !== 'object' ||
      typeof database.prepare !== 'function'
    ) {
      throw new TypeError('sqliteSink: database must be an open better-sqlite3 Database');
    }
    if (typeof table !== 'string' || !IDENTIFIER.test(table)) {
      throw new TypeError(
        `sqliteSink: table must be a plain SQL identifier (letters, digits, _), got ${String(table)}`,
      );
    }
    this.database = database;
    this.table = table;
    database.exec(`CREATE TABLE IF NOT EXISTS "${table}" (key TEXT PRIMARY KEY, value)`);
    const toStored = (serialize ?? defaultSerialize) as (value: unknown) => unknown;
    this.#upsert = new ChunkedUpsert<SinkRecord<unknown>>(
      database,
      `"${table}"`,
      ['key', 'value'],
      CHUNK,
      (out, at, record) => {
        out[at] = String(record.key);
        out[at + 1] = toStored(record.value);
      },
    );
    this.#writeTx = database.transaction((batch: readonly SinkRecord<unknown>[]) =>
      this.#upsert.run(batch),
    );
  }

  /** Writes one batch in a transaction (a savepoint inside the caller's, if one is open). */
  writeSync(batch: readonly SinkRecord<unknown>[]): void {
    if (this.database.inTransaction) this.#writeTx(batch);
    else this.#writeTx.immediate(batch);
  }

  write(batch: SinkRecord<T>[]): void {
    this.writeSync(batch);
  }
}

/** An idempotent SQLite sink: see `SqliteSink`. */
export function sqliteSink<T = unknown>(options: SqliteSinkOptions<T>): SqliteSink<T> {
  return new SqliteSink(options);
}
