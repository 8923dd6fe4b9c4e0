/**
 * One contender per process: `node --import tsx bench/pipeline/contenders.ts <name> <items>`
 * prints one JSON line { name, items, seconds, cpuSeconds, loopP99Ms? } (cpuSeconds: this
 * process's user + system CPU time during the run, all threads — steadier than wall time on a
 * shared machine).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import pLimit from 'p-limit';
import { monitorLoop } from '../../src/observe/index.ts';
import { pipeline, sqliteJournal, sqliteSink } from '../../src/pipeline.ts';

export const CONCURRENCY = 16;

// Three trivial async stages.
const a = async (x: number) => x + 1;
const b = async (x: number) => x * 2;
const c = async (x: number) => x - 1;

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

type Run = (items: number) => Promise<{ loopP99Ms?: number; extra?: string }>;

const contenders: Record<string, Run> = {
  async switchyard(items) {
    let written = 0;
    const report = await pipeline({ name: 'bench' })
      .from(range(items))
      .map('a', a, { concurrency: CONCURRENCY })
      .map('b', b, { concurrency: CONCURRENCY })
      .map('c', c, { concurrency: CONCURRENCY })
      .to('sink', (batch) => {
        written += batch.length;
      })
      .run();
    if (report.totals.ok !== items || written !== items)
      throw new Error(`switchyard: ${report.totals.ok} of ${items}`);
    return {};
  },

  async streams(items) {
    let count = 0;
    const stream = Readable.from(range(items))
      .map(a, { concurrency: CONCURRENCY })
      .map(b, { concurrency: CONCURRENCY })
      .map(c, { concurrency: CONCURRENCY });
    for await (const _ of stream) count++;
    if (count !== items) throw new Error(`streams: ${count} of ${items}`);
    return {};
  },

  async plimit(items) {
    // Three limiters chained per item; the source is fed through a window so that, like the
    // others, memory stays bounded (p-limit queues without bound otherwise).
    const la = pLimit(CONCURRENCY);
    const lb = pLimit(CONCURRENCY);
    const lc = pLimit(CONCURRENCY);
    const window = CONCURRENCY * 3 + 256;
    let inFlight = 0;
    let done = 0;
    let wake: (() => void) | undefined;
    for (const x of range(items)) {
      if (inFlight >= window) await new Promise<void>((resolve) => (wake = resolve));
      inFlight++;
      la(() => a(x))
        .then((y) => lb(() => b(y)))
        .then((z) => lc(() => c(z)))
        .then(() => {
          done++;
          inFlight--;
          const w = wake;
          wake = undefined;
          w?.();
        });
    }
    while (done < items) await new Promise<void>((resolve) => (wake = resolve));
    return {};
  },

  async journaled(items) {
    const dir = mkdtempSync(join(os.tmpdir(), 'switchyard-bench-'));
    const db = new Database(join(dir, 'job.db'));
    const monitor = monitorLoop({ resolutionMs: 5 });
    try {
      const report = await pipeline({ name: 'bench', journal: sqliteJournal(db) })
        .from(range(items))
        .map('a', a, { concurrency: CONCURRENCY })
        .map('b', b, { concurrency: CONCURRENCY })
        .map('c', c, { concurrency: CONCURRENCY })
        .to('sink', sqliteSink({ database: db, table: 'results' }))
        .run();
      if (report.totals.ok !== items) throw new Error(`journaled: ${report.totals.ok} of ${items}`);
      const { delay } = monitor.stats();
      return { loopP99Ms: delay.p99 * 1000, extra: `loop max ${(delay.max * 1000).toFixed(1)} ms` };
    } finally {
      monitor.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },

  /** better-sqlite3 alone: the same upsert, 100 rows per transaction, WAL — the floor. */
  async sqlite(items) {
    const dir = mkdtempSync(join(os.tmpdir(), 'switchyard-bench-'));
    const db = new Database(join(dir, 'floor.db'));
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec('CREATE TABLE results (key TEXT PRIMARY KEY, value)');
      const insert = db.prepare(
        'INSERT INTO results (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      );
      const batch = db.transaction((from: number, to: number) => {
        for (let i = from; i < to; i++) insert.run(String(i), i);
      });
      for (let i = 0; i < items; i += 100) batch.immediate(i, Math.min(i + 100, items));
      return {};
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [name, count] = process.argv.slice(2);
  const run = contenders[name!];
  if (run === undefined) throw new Error(`unknown contender ${name}`);
  const items = Number(count);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const result = await run(items);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(`${JSON.stringify({ name, items, seconds, cpuSeconds, ...result })}\n`);
}
