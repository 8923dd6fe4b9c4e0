import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { monitorLoop } from '../../src/observe/index.ts';
import { pipeline, sqliteJournal, sqliteSink } from '../../src/pipeline.ts';
import { range, tempDatabase, tempDir } from './support.ts';

const dir = tempDir();

describe('event loop', () => {
  // The p99 < 20 ms goal itself is checked by bench/pipeline (run alone): under the full suite
  // on a shared 2-core machine another test process saturating the CPU pushed the measured p99
  // to 62 ms, which says nothing about the journal. What keeps the loop free is structural, and
  // that is what is asserted exactly: no transaction per item. The loop monitor's p99 is
  // asserted only against a generous bound (250 ms, 12× the goal, 4× the worst seen under the
  // full suite) — it catches a journal that blocks the loop for whole runs of commits, not a
  // few milliseconds — and the figure is reported.
  it('a 100,000-item journaled run commits in batches, never per item, and keeps the loop responsive', async (t) => {
    const { db } = tempDatabase(dir);
    const journal = sqliteJournal(db);
    const monitor = monitorLoop({ resolutionMs: 5 });
    try {
      const report = await pipeline({ name: 'loop', journal })
        .from(range(100_000))
        .map('a', async (x) => x + 1, { concurrency: 16 })
        .map('b', async (x) => x * 2, { concurrency: 16 })
        .to('out', sqliteSink({ database: db, table: 'out' }))
        .run();
      const { delay } = monitor.stats();
      assert.equal(report.totals.ok, 100_000);
      assert.equal(db.prepare('SELECT count(*) FROM out').pluck().get(), 100_000);
      // One transaction per sink batch (up to 256 items) plus the timer's lease flushes.
      assert.ok(journal.commits < 100_000 / 16, `${journal.commits} commits for 100,000 items`);
      assert.ok(delay.p99 * 1000 < 250, `loop p99 ${(delay.p99 * 1000).toFixed(1)} ms`);
      t.diagnostic(
        `loop p99 ${(delay.p99 * 1000).toFixed(1)} ms, max ${(delay.max * 1000).toFixed(1)} ms, ${journal.commits} commits, ${Math.round(report.totals.durationMs)} ms`,
      );
    } finally {
      monitor.stop();
    }
  });
});
