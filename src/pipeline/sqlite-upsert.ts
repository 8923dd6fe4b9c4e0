import type Database from 'better-sqlite3';

/**
 * `INSERT INTO table (columns) … ON CONFLICT (first column) DO UPDATE` for a batch of rows,
 * `chunk` rows per statement and the rest one per statement. One statement per row costs a
 * JS → SQLite call, a step and a reset each; a multi-row `VALUES` shares them (bench/pipeline/,
 * bench/cli/). Rows go in batch order, so a key repeated in one batch ends as its last row,
 * even within one statement.
 *
 * `params(out, at, row)` writes the row's values, in `columns` order, into `out` from `at`.
 */
export class ChunkedUpsert<R> {
  readonly #one: Database.Statement;
  readonly #many: Database.Statement;
  readonly #chunk: number;
  readonly #width: number;
  readonly #params: (out: unknown[], at: number, row: R) => void;

  constructor(
    database: Database.Database,
    table: string,
    columns: readonly string[],
    chunk: number,
    params: (out: unknown[], at: number, row: R) => void,
  ) {
    const updates = columns
      .slice(1)
      .map((c) => `${c} = excluded.${c}`)
      .join(', ');
    const tuple = `(${columns.map(() => '?').join(', ')})`;
    const statement = (rows: number) =>
      database.prepare(
        `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array(rows).fill(tuple).join(', ')}
         ON CONFLICT (${columns[0]}) DO UPDATE SET ${updates}`,
      );
    this.#one = statement(1);
    this.#many = statement(chunk);
    this.#chunk = chunk;
    this.#width = columns.length;
    this.#params = params;
  }

  /** Upserts `rows`; call it inside a transaction. */
  run(rows: readonly R[]): void {
    const chunk = this.#chunk;
    const width = this.#width;
    const params = this.#params;
    let i = 0;
    if (rows.length >= chunk) {
      const out: unknown[] = new Array(chunk * width);
      for (; i + chunk <= rows.length; i += chunk) {
        for (let j = 0; j < chunk; j++) params(out, j * width, rows[i + j]!);
        this.#many.run(out);
      }
    }
    if (i === rows.length) return;
    const out: unknown[] = new Array(width);
    for (; i < rows.length; i++) {
      params(out, 0, rows[i]!);
      this.#one.run(out);
    }
  }
}
