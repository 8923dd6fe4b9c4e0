/**
 * Does advise() recommend the lane that wins, and how close is its estimate?
 *
 * For each known workload: advise() it (with the parallelism it measures: the machine is
 * shared), then measure calls/s side by side on the naive lane (the main event loop: sync calls
 * back to back, async calls 64 in flight) and on the recommended lane (a ThreadPool of the
 * advised size, started and warmed up before any window is timed, twice the threads in flight so
 * that no worker waits for its next task). The two lanes take turns in short windows (three
 * each), so that a load that comes and goes on the shared machine weighs on both alike. For a
 * `loop` verdict the comparison is the other way round: the loop against the thread pool
 * advise() compared it with. Prints whether the recommendation won where it said it would (a
 * speedup of 1.05× or more) and the estimated against the measured ratio (goal: within 30%).
 *
 *   node --import tsx bench/advise/run.ts
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Advice, advise } from '../../src/advise/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import * as w from '../../test/advise/fixtures/workloads.ts';

const DURATION_MS = Number(process.env.BENCH_MS ?? 1500);
const ROUNDS = 3;
/** Below this estimated speedup the verdict claims no throughput win ("about the same"). */
const CLAIM = 1.05;
const LOOP_CONCURRENCY = 64;
const workloadsUrl = new URL('../../test/advise/fixtures/workloads.ts', import.meta.url);

type Fn = (...args: unknown[]) => unknown;

interface Window {
  calls: number;
  ms: number;
}

/** Calls done by `call` with `inflight` calls in flight for about `ms`, and the time taken. */
async function window(call: () => unknown, inflight: number, ms: number): Promise<Window> {
  const started = performance.now();
  let done = 0;
  let last = started;
  const worker = async () => {
    while (performance.now() - started < ms) {
      await call();
      done++;
      last = performance.now();
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  return { calls: done, ms: last - started };
}

/** Calls/s of each lane, the lanes taking turns in ROUNDS windows each. */
async function sideBySide(
  a: { call: () => unknown; inflight: number },
  b: { call: () => unknown; inflight: number },
): Promise<[number, number]> {
  const totals = [
    { calls: 0, ms: 0 },
    { calls: 0, ms: 0 },
  ];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, lane] of [a, b].entries()) {
      const w = await window(lane.call, lane.inflight, DURATION_MS / ROUNDS);
      totals[i]!.calls += w.calls;
      totals[i]!.ms += w.ms;
    }
  }
  return [(totals[0]!.calls * 1000) / totals[0]!.ms, (totals[1]!.calls * 1000) / totals[1]!.ms];
}

async function startServer(): Promise<{ port: number; child: ChildProcess }> {
  // In its own process, so the server's work is not on the loop being measured, and in its own
  // session (detached): Linux's autogroup scheduler gives each session one share of the CPU, and
  // a server stands for another machine, whose CPU the lanes being compared do not pay for.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:http').createServer((q, r) => setTimeout(() => r.end('x'.repeat(2000)), 10));
       s.listen(0, '127.0.0.1', () => console.log(s.address().port));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
  );
  const port = await new Promise<number>((resolve) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
  });
  return { port, child };
}

interface Row {
  name: string;
  lane: string;
  kind: string;
  loop: number;
  pool: number;
  threads: number;
  parallelism: number;
  estimated: number;
  measured: number;
  won: boolean;
  /** The verdict said the recommended lane would run more calls per second. */
  claimed: boolean;
}

const rate = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

async function main(): Promise<void> {
  const fifo = join(tmpdir(), `switchyard-bench-${process.pid}.fifo`);
  w.makeFifo(fifo);
  const server = await startServer();
  const cases: [string, unknown[]][] = [
    ['timerWaits', []],
    ['httpGets', [server.port]],
    ['pbkdf2', []],
    ['parseJson', []],
    ['heavyRegex', []],
    ['atomicsWait', []],
    ['execSleep', []],
    ['slowPipeRead', [fifo]],
  ];
  const rows: Row[] = [];
  try {
    for (const [name, args] of cases) {
      const report: Advice = await advise(workloadsUrl, name, args, { runs: 5, warmup: 2 });
      const e = report.estimate!;
      const fn = (w as unknown as Record<string, Fn>)[name]!;
      const isAsync = report.samples.some((s) => s.syncMs < s.wallMs * 0.5);
      await using pool = new ThreadPool({ minThreads: e.threads, maxThreads: e.threads });
      await Promise.all(
        Array.from({ length: e.threads }, () => pool.run(workloadsUrl, name, args)),
      );
      const [loop, poolRate] = await sideBySide(
        { call: () => fn(...args), inflight: isAsync ? LOOP_CONCURRENCY : 1 },
        { call: () => pool.run(workloadsUrl, name, args), inflight: e.threads * 2 },
      );
      const toLoop = report.verdict.lane === 'loop';
      const estimated = toLoop ? e.lanes.loop / e.lanes.thread : e.speedup;
      const measured = toLoop ? loop / poolRate : poolRate / loop;
      rows.push({
        name,
        lane: report.verdict.lane,
        kind: report.verdict.kind,
        loop,
        pool: poolRate,
        threads: e.threads,
        parallelism: e.parallelism,
        estimated,
        measured,
        won: measured > 1,
        claimed: estimated >= CLAIM,
      });
      process.stdout.write(`${name}: ${report.verdict.lane} — ${report.verdict.reason}\n`);
    }
  } finally {
    server.child.kill();
    rmSync(fifo, { force: true });
  }
  process.stdout.write(
    `\n${'workload'.padEnd(13)} ${'verdict'.padEnd(18)} ${'loop/s'.padStart(8)} ${'pool/s'.padStart(8)} threads  cores  won (where claimed)  estimate  measured  error\n`,
  );
  for (const r of rows) {
    const error = r.estimated / r.measured - 1;
    process.stdout.write(
      `${r.name.padEnd(13)} ${`${r.lane} (${r.kind})`.padEnd(18)} ${rate(r.loop).padStart(8)} ${rate(r.pool).padStart(8)} ${String(r.threads).padStart(7)}  ${r.parallelism.toFixed(2).padStart(5)}  ${(r.claimed ? (r.won ? 'yes' : 'NO') : `not claimed (${r.won ? 'won' : 'lost'})`).padEnd(19)} ${`${r.estimated.toFixed(2)}×`.padStart(8)}  ${`${r.measured.toFixed(2)}×`.padStart(8)}  ${`${error >= 0 ? '+' : ''}${(error * 100).toFixed(0)}%`.padStart(5)}${Math.abs(error) <= 0.3 ? '' : '  (over 30%)'}\n`,
    );
  }
  process.stdout.write(
    '\nratio: pool/loop for thread verdicts, loop/pool for loop verdicts (the recommendation against the alternative).\n' +
      "cores: the cores' worth of CPU advise() measured available (a CPU burst on 1 thread, then on all at once); the machine's count is the ceiling.\n" +
      `not claimed: the estimate was under ${CLAIM}× (the verdict says "about the same calls per second": it moves the work to free the loop).\n` +
      'leak, crash and hang workloads are not timed: on the naive lane they take the process down (see the tests).\n',
  );
}

await main();
