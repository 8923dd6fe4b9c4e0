import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import Database from 'better-sqlite3';

/** A temporary directory removed after the test file. */
export function tempDir(prefix = 'switchyard-pipeline-'): string {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let files = 0;
/** A fresh SQLite file in a temp directory, closed after the test file. */
export function tempDatabase(dir: string): { path: string; db: Database.Database } {
  const path = join(dir, `db-${files++}.sqlite`);
  const db = new Database(path);
  after(() => {
    if (db.open) db.close();
  });
  return { path, db };
}

/** 0, 1, …, n-1, lazily. */
export function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/** Rows of the journal's item table by state. */
export function journalStates(db: Database.Database, pipeline: string): Record<string, number> {
  const rows = db
    .prepare('SELECT state, count(*) AS n FROM switchyard_items WHERE pipeline = ? GROUP BY state')
    .all(pipeline) as { state: string; n: number }[];
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}
