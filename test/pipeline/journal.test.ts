import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pipeline, sqliteJournal, sqliteSink } from '../../src/pipeline.ts';
import { failOnUnhandledRejections } from '../support/helpers.ts';
import { journalStates, range, tempDatabase, tempDir } from './support.ts';

failOnUnhandledRejections();
const dir = tempDir();

describe('journal: resume, dead letters, group commit', () => {
  it('a re-run skips done and failed items and runs the rest; counts reconcile', async () => {
    const { db } = tempDatabase(dir);
    const journal = sqliteJournal(db);
    const calls = new Map<number, number>();
    let stopAt = 60;
    const stop = new AbortController();
    const written = new Set<unknown>();
    const build = () =>
      pipeline({ name: 'resume', journal })
        .from(range(100))
        .map(
          'work',
          (x) => {
            calls.set(x, (calls.get(x) ?? 0) + 1);
            if (x % 10 === 9) throw new Error(`bad ${x}`);
            return x;
          },
          { concurrency: 2, buffer: 2 },
        )
        .to(
          'sink',
          (batch) => {
            for (const r of batch) written.add(r.key);
            if (written.size >= stopAt) stop.abort();
          },
          { batchSize: 4 },
        );
    const first = await build().run({ signal: stop.signal });
    assert.equal(first.totals.interrupted, true);
    const t1 = first.totals;
    assert.equal(t1.read, t1.ok + t1.failed + t1.pending + t1.skipped);
    assert.ok(t1.read < 100, `stopped reading early (read ${t1.read})`);
    assert.equal(t1.pending, 0, 'a graceful stop drains every item read');
    assert.deepEqual(journalStates(db, 'resume'), { done: t1.ok, failed: t1.failed });

    stopAt = Number.POSITIVE_INFINITY;
    const second = await build().run();
    const t2 = second.totals;
    assert.equal(t2.interrupted, false);
    assert.equal(t2.skipped, t1.ok + t1.failed);
    assert.equal(t2.read, 100);
    assert.equal(t1.ok + t2.ok, 90);
    assert.equal(t1.failed + t2.failed, 10);
    for (const [x, n] of calls) assert.equal(n, 1, `item ${x} ran once`);
    assert.deepEqual(journalStates(db, 'resume'), { done: 90, failed: 10 });
    const letters = db
      .prepare(
        'SELECT key, stage, error_class, message FROM switchyard_dead_letters ORDER BY CAST(key AS INTEGER)',
      )
      .all();
    assert.equal(letters.length, 10);
    assert.deepEqual(letters[0], {
      key: '9',
      stage: 'work',
      error_class: 'Error',
      message: 'bad 9',
    });
  });

  it('with the sink on the journal database, rows and done marks commit together', async () => {
    const { db } = tempDatabase(dir);
    db.exec('CREATE TABLE rewrites (n INTEGER)');
    const journal = sqliteJournal(db);
    const sink = sqliteSink<unknown>({ database: db, table: 'results' });
    db.exec(
      'CREATE TRIGGER results_rewritten AFTER UPDATE ON results BEGIN INSERT INTO rewrites VALUES (1); END',
    );
    const report = await pipeline({ name: 'shared', journal })
      .from(range(1000))
      .map('obj', (x) => ({ x }))
      .to('results', sink, { batchSize: 50 })
      .run();
    assert.equal(report.totals.ok, 1000);
    assert.equal(db.prepare('SELECT count(*) FROM results').pluck().get(), 1000);
    assert.deepEqual(
      JSON.parse(db.prepare("SELECT value FROM results WHERE key = '7'").pluck().get() as string),
      { x: 7 },
    );
    assert.deepEqual(journalStates(db, 'shared'), { done: 1000 });
    assert.equal(db.prepare('SELECT count(*) FROM rewrites').pluck().get(), 0);
    // A sink batch that fails rolls back its rows and its done marks alike.
    const again = await pipeline({ name: 'shared', journal })
      .from(range(1000))
      .to('results', sink)
      .run();
    assert.equal(again.totals.skipped, 1000);
    assert.equal(db.prepare('SELECT count(*) FROM rewrites').pluck().get(), 0);
  });

  it('a sink write that throws inside the shared transaction rolls back rows and marks', async () => {
    const { db } = tempDatabase(dir);
    const journal = sqliteJournal(db);
    const sink = sqliteSink<number>({
      database: db,
      table: 'out',
      serialize: (v) => {
        if (v === 13) throw new Error('unlucky');
        return v;
      },
    });
    const report = await pipeline({ name: 'rollback', journal })
      .from(range(20))
      .to('out', sink, { batchSize: 1 })
      .run();
    assert.equal(report.totals.failed, 1);
    assert.equal(db.prepare("SELECT count(*) FROM out WHERE key = '13'").pluck().get(), 0);
    assert.deepEqual(journalStates(db, 'rollback'), { done: 19, failed: 1 });
  });

  it('group commit: journal writes are batched, not one transaction per item', async () => {
    const { path } = tempDatabase(dir);
    const journal = sqliteJournal(path, { commitEvery: 500, commitIntervalMs: 10_000 });
    try {
      await pipeline({ name: 'batched', journal })
        .from(range(5000))
        .map('id', (x) => x, { concurrency: 8 })
        .to('sink', () => {})
        .run();
      // 5000 leases + 5000 done marks = 10,000 writes: 20 commits, plus the final flush.
      assert.ok(journal.commits <= 21, `commits: ${journal.commits}`);
      assert.deepEqual(journalStates(journal.database, 'batched'), { done: 5000 });
    } finally {
      journal.close();
    }
  });

  it('a hard stop leaves the unfinished items pending, not leased, and a resume finishes them', async () => {
    const { db } = tempDatabase(dir);
    const journal = sqliteJournal(db);
    const stop = new AbortController();
    let started = 0;
    const build = (hang: boolean) =>
      pipeline({ name: 'hard', journal })
        .from(range(50))
        .map(
          'slow',
          (x, ctx) => {
            if (!hang) return x;
            if (++started === 4) stop.abort(); // every worker is now busy
            return new Promise((_, reject) => {
              if (ctx.signal.aborted) reject(ctx.signal.reason);
              ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
            });
          },
          { concurrency: 4, buffer: 4 },
        )
        .to('sink', () => {});
    const first = await build(true).run({ signal: stop.signal, drainTimeoutMs: 0 });
    const t = first.totals;
    assert.equal(t.interrupted, true);
    assert.equal(t.ok, 0);
    assert.equal(t.failed, 0, 'items cut off by a hard stop are not dead letters');
    assert.ok(t.pending >= 4);
    assert.equal(t.read, t.pending);
    assert.deepEqual(journalStates(db, 'hard'), { pending: t.pending });
    const second = await build(false).run();
    assert.equal(second.totals.ok, 50);
    assert.deepEqual(journalStates(db, 'hard'), { done: 50 });
  });
});

describe('journal: leases', () => {
  const rows = (db: import('better-sqlite3').Database) =>
    Object.fromEntries(
      (
        db
          .prepare("SELECT key, state, attempts FROM switchyard_items WHERE pipeline = 'leases'")
          .all() as { key: string; state: string; attempts: number }[]
      ).map((r) => [r.key, `${r.state}/${r.attempts}`]),
    );

  it('a lease is written only once its item has been in flight for a whole commit interval', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { db } = tempDatabase(dir);
    const journal = sqliteJournal(db, { commitIntervalMs: 50 });
    journal.begin('leases', 'run-1');
    journal.lease('a');
    journal.lease('b');
    t.mock.timers.tick(50);
    assert.deepEqual(rows(db), {}, 'young leases are not written at the first tick');
    journal.done('a');
    journal.lease('c');
    t.mock.timers.tick(50);
    // a finished while still buffered: its done row carries the attempt. b survived a whole
    // interval unfinished: its lease is written. c is young.
    assert.deepEqual(rows(db), { a: 'done/1', b: 'leased/1' });
    journal.done('b');
    journal.done('c');
    t.mock.timers.tick(50);
    assert.deepEqual(rows(db), { a: 'done/1', b: 'done/1', c: 'done/1' }, 'one attempt each');
    journal.lease('d');
    journal.end();
    assert.deepEqual(
      rows(db),
      { a: 'done/1', b: 'done/1', c: 'done/1', d: 'pending/1' },
      'end() writes the young leases too, and releases them to pending',
    );
  });

  it('a commit by count writes the done marks and the old leases, not the young ones', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { db } = tempDatabase(dir);
    const journal = sqliteJournal(db, { commitEvery: 2, commitIntervalMs: 50 });
    journal.begin('leases', 'run-2');
    journal.lease('old');
    t.mock.timers.tick(50);
    journal.lease('x');
    journal.lease('y');
    journal.lease('young');
    journal.done('x');
    journal.done('y'); // the second buffered write: commits now, before any tick
    assert.deepEqual(rows(db), { old: 'leased/1', x: 'done/1', y: 'done/1' });
    journal.flush();
    assert.deepEqual(rows(db), { old: 'leased/1', x: 'done/1', y: 'done/1', young: 'leased/1' });
    journal.end();
  });
});
