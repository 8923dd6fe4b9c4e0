/**
 * Does advise() recommend the lane that wins, and how close is its estimate?
 *
 * For each known workload: advise() it, then measure calls/s side by side on the naive lane (the
 * main event loop: sync calls back to back, async calls 64 in flight) and on the recommended
 * lane (a ThreadPool of the advised size). For a `loop` verdict the comparison is the other way
 * round: the loop against the thread pool advise() compared it with. Prints whether the
 * recommendation won and the estimated against the measured ratio (goal: within 30%).
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
const LOOP_CONCURRENCY = 64;
const workloadsUrl = new URL('../../test/advise/fixtures/workloads.ts', import.meta.url);

type Fn = (...args: unknown[]) => unknown;

/** Calls/s of `call` with `inflight` calls in flight for about DURATION_MS. */
async function throughput(call: () => unknown, inflight: number): Promise<number> {
  const started = performance.now();
  let done = 0;
  let last = started;
  const worker = async () => {
    while (performance.now() - started < DURATION_MS) {
      await call();
      done++;
      last = performance.now();
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  return (done * 1000) / (last - started);
}

async function startServer(): Promise<{ port: number; child: ChildProcess }> {
  // In its own process, so the server's work is not on the loop being measured.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:http').createServer((q, r) => setTimeout(() => r.end('x'.repeat(2000)), 10));
       s.listen(0, '127.0.0.1', () => console.log(s.address().port));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
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
  estimated: number;
  measured: number;
  won: boolean;
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
      const loop = await throughput(() => fn(...args), isAsync ? LOOP_CONCURRENCY : 1);
      await using pool = new ThreadPool({ minThreads: e.threads, maxThreads: e.threads });
      await Promise.all(
        Array.from({ length: e.threads }, () => pool.run(workloadsUrl, name, args)),
      );
      const poolRate = await throughput(() => pool.run(workloadsUrl, name, args), e.threads * 2);
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
        estimated,
        measured,
        won: measured > 1,
      });
      process.stdout.write(`${name}: ${report.verdict.lane} — ${report.verdict.reason}\n`);
    }
  } finally {
    server.child.kill();
    rmSync(fifo, { force: true });
  }
  process.stdout.write(
    `\n${'workload'.padEnd(13)} ${'verdict'.padEnd(16)} ${'loop/s'.padStart(8)} ${'pool/s'.padStart(8)} threads  recommended won  estimate  measured  error\n`,
  );
  for (const r of rows) {
    const error = r.estimated / r.measured - 1;
    process.stdout.write(
      `${r.name.padEnd(13)} ${`${r.lane} (${r.kind})`.padEnd(16)} ${rate(r.loop).padStart(8)} ${rate(r.pool).padStart(8)} ${String(r.threads).padStart(7)}  ${(r.won ? 'yes' : 'NO').padEnd(15)} ${`${r.estimated.toFixed(2)}×`.padStart(8)}  ${`${r.measured.toFixed(2)}×`.padStart(8)}  ${`${error >= 0 ? '+' : ''}${(error * 100).toFixed(0)}%`.padStart(5)}${Math.abs(error) <= 0.3 ? '' : '  (over 30%)'}\n`,
    );
  }
  process.stdout.write(
    '\nratio: pool/loop for thread verdicts, loop/pool for loop verdicts (the recommendation against the alternative).\n' +
      'leak, crash and hang workloads are not timed: on the naive lane they take the process down (see the tests).\n',
  );
}

await main();
