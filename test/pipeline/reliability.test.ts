/**
 * Real child processes, real signals, real SQLite files: a SIGTERM drains and exits cleanly, a
 * second one stops at once, and a SIGKILL at any point followed by a resume ends with every item
 * in the sink exactly once.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { PipelineReport } from '../../src/pipeline.ts';
import { journalStates, tempDir } from './support.ts';

const fixture = fileURLToPath(new URL('./fixtures/job.ts', import.meta.url));
const dir = tempDir('switchyard-reliability-');
let files = 0;

interface Job {
  child: ChildProcess;
  /** Resolves at the first progress line with a count >= `n` (0: at `ready`); false if the job ended first. */
  reached(n: number): Promise<boolean>;
  /** Resolves once the child has seen a SIGTERM. */
  sigterm(): Promise<void>;
  exit: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    report?: PipelineReport;
    stderr: string;
  }>;
}

function startJob(db: string, items: number, delayMs: number, drainMs?: number): Job {
  const args = ['--import', 'tsx', fixture, db, String(items), String(delayMs)];
  if (drainMs !== undefined) args.push(String(drainMs));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let progress = -1;
  let sigterms = 0;
  let ended = false;
  let report: PipelineReport | undefined;
  let stderr = '';
  const waiters: { n: number; resolve: (ok: boolean) => void }[] = [];
  const termWaiters: (() => void)[] = [];
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (progress >= w.n || ended) {
        waiters.splice(i, 1);
        w.resolve(progress >= w.n);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'ready') progress = Math.max(progress, 0);
    else if (line === 'sigterm') sigterms++;
    else if (line.startsWith('p ')) progress = Number(line.slice(2));
    else if (line.startsWith('report ')) report = JSON.parse(line.slice(7));
    check();
    if (line === 'sigterm') for (const w of termWaiters.splice(0)) w();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  const exit = new Promise<Awaited<Job['exit']>>((resolve) => {
    child.on('close', (code, signal) => {
      ended = true;
      check();
      resolve({ code, signal, report, stderr });
    });
  });
  return {
    child,
    exit,
    sigterm: () =>
      new Promise<void>((resolve) => {
        if (sigterms > 0) resolve();
        else termWaiters.push(resolve);
      }),
    reached: (n) =>
      new Promise((resolve) => {
        waiters.push({ n, resolve });
        check();
      }),
  };
}

function expectedValue(i: number): string {
  return createHash('sha256').update(String(i)).digest('hex');
}

/** Every item in the sink exactly once, with the right value; the journal says all done. */
function assertComplete(file: string, items: number): void {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare('SELECT key, value FROM results').all() as {
      key: string;
      value: string;
    }[];
    assert.equal(rows.length, items, 'one row per item');
    const keys = new Set(rows.map((r) => r.key));
    for (let i = 0; i < items; i++) assert.ok(keys.has(String(i)), `item ${i} is in the sink`);
    for (const r of rows) assert.equal(r.value, expectedValue(Number(r.key)));
    assert.equal(
      db.prepare('SELECT count(*) FROM rewrites').pluck().get(),
      0,
      'no row written twice',
    );
    assert.deepEqual(journalStates(db, 'job'), { done: items });
  } finally {
    db.close();
  }
}

describe('reliability (child processes)', () => {
  it('SIGTERM mid-run: stops reading, drains what was read, flushes, exits cleanly; a resume finishes', async () => {
    const file = join(dir, `term-${files++}.db`);
    const job = startJob(file, 3000, 2);
    assert.ok(await job.reached(100), 'the job got going');
    job.child.kill('SIGTERM');
    const { code, signal, report, stderr } = await job.exit;
    assert.equal(stderr, '');
    assert.equal(signal, null, 'exited by itself, not killed by the signal');
    assert.equal(code, 130);
    assert.ok(report);
    const t = report.totals;
    assert.equal(t.interrupted, true);
    assert.ok(t.read < 3000, `stopped reading (read ${t.read})`);
    assert.equal(t.pending, 0, 'everything read was drained');
    assert.equal(t.read, t.ok + t.failed);
    const db = new Database(file, { readonly: true });
    assert.deepEqual(journalStates(db, 'job'), { done: t.ok });
    assert.equal(db.prepare('SELECT count(*) FROM results').pluck().get(), t.ok);
    db.close();

    const resumed = await startJob(file, 3000, 0).exit;
    assert.equal(resumed.code, 0);
    assert.equal(resumed.report!.totals.skipped, t.ok);
    assertComplete(file, 3000);
  });

  it('a second SIGTERM stops at once; the unfinished items stay pending for the resume', async () => {
    const file = join(dir, `term2-${files++}.db`);
    const job = startJob(file, 2000, 60_000); // every fetch waits a minute unless aborted
    assert.ok(await job.reached(0));
    // The first SIGTERM starts a drain that would take a minute; the second ends it.
    job.child.kill('SIGTERM');
    await job.sigterm();
    job.child.kill('SIGTERM');
    const { code, signal, report, stderr } = await job.exit;
    assert.equal(stderr, '');
    assert.equal(signal, null);
    assert.equal(code, 130);
    const t = report!.totals;
    assert.equal(t.interrupted, true);
    assert.equal(t.ok, 0);
    assert.equal(t.failed, 0);
    assert.equal(t.pending, t.read);
    const db = new Database(file, { readonly: true });
    assert.deepEqual(journalStates(db, 'job'), t.read > 0 ? { pending: t.read } : {});
    db.close();
    const resumed = await startJob(file, 2000, 0).exit;
    assert.equal(resumed.code, 0);
    assertComplete(file, 2000);
  });

  it('SIGKILL at 20 random points, each followed by a resume: every item in the sink exactly once', async () => {
    const file = join(dir, `kill-${files++}.db`);
    const items = 4000;
    const seed = Date.now();
    let x = seed;
    const random = () => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x / 2 ** 31;
    };
    const killedAt: number[] = [];
    for (let round = 0; round < 20; round++) {
      const job = startJob(file, items, 0);
      const point = Math.floor(random() * 300); // items into this run's hash stage (0: at start)
      if (await job.reached(point)) job.child.kill('SIGKILL');
      const { signal, code } = await job.exit;
      killedAt.push(signal === 'SIGKILL' ? point : -1);
      assert.ok(
        signal === 'SIGKILL' || code === 0,
        `round ${round}: killed or finished (seed ${seed})`,
      );
    }
    const last = await startJob(file, items, 0).exit;
    assert.equal(last.code, 0, last.stderr);
    assert.ok(
      killedAt.filter((p) => p >= 0).length >= 15,
      `most rounds were killed mid-run (points ${killedAt.join(',')}, seed ${seed})`,
    );
    assertComplete(file, items);
  });
});
