/**
 * The pool/ benchmark: switchyard's ThreadPool and ProcessPool beside piscina, tinypool,
 * workerpool and Python's executors, 2 workers each, every contender in a fresh process.
 * switchyard is measured from a fresh build (plain JavaScript, no loader), like the peers.
 *
 *   node --import tsx bench/pool/run.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Result {
  workload: string;
  contender: string;
  tasksPerSec?: number;
  p50us?: number;
  ms?: number;
}

const root = fileURLToPath(new URL('../../', import.meta.url));
const contenderScript = fileURLToPath(new URL('./contenders.mjs', import.meta.url));
const pythonScript = fileURLToPath(new URL('./python_pool.py', import.meta.url));

const dist = mkdtempSync(join(os.tmpdir(), 'switchyard-bench-'));
execFileSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', dist],
  { cwd: root, stdio: 'inherit' },
);
writeFileSync(join(dist, 'package.json'), '{"type":"module"}');

function node(workload: string, contender: string): Result {
  const out = execFileSync(process.execPath, [contenderScript, workload, contender, dist], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Result;
}

function python(kind: string): Result | undefined {
  try {
    const out = execFileSync('python3', [pythonScript, kind], { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').at(-1)!) as Result;
  } catch (error) {
    console.log(`  (python3 skipped: ${(error as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

/** Every run of `best`, by contender: the p50 round trip is taken as its own best. */
const runs = new Map<string, Result[]>();

/** Best of `passes` fresh processes, interleaved, so a burst of load cannot single one out. */
function best(workload: string, names: string[], passes: number, better: (r: Result) => number) {
  const kept = new Map<string, Result>();
  for (let pass = 0; pass < passes; pass++) {
    for (const name of names) {
      const r = node(workload, name);
      runs.set(`${workload}/${name}`, [...(runs.get(`${workload}/${name}`) ?? []), r]);
      const old = kept.get(name);
      if (old === undefined || better(r) > better(old)) kept.set(name, r);
    }
  }
  return kept;
}

/** The lowest p50 round trip of a contender's runs (best of its fresh processes, like throughput). */
function bestP50(workload: string, name: string): number {
  return Math.min(...(runs.get(`${workload}/${name}`) ?? []).map((r) => r.p50us!));
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits }).padStart(10);
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
const peers = ['switchyard', 'piscina', 'tinypool', 'workerpool'];

console.log(
  `switchyard pool benchmark — Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, 2 workers per pool`,
);
console.log(
  'best of 3 fresh processes per contender (interleaved; throughput and p50 each their best); shared machine\n',
);

const trivial = best('trivial', peers, 3, (r) => r.tasksPerSec!);
const pyThread = python('thread');
console.log(
  'Trivial task (x => x + 1), 100,000 tasks, 256 in flight; then one at a time, 3,000 round trips',
);
for (const [name, r] of trivial) {
  console.log(
    `  ${name.padEnd(28)} ${fmt(r.tasksPerSec!)} tasks/s   p50 round trip ${fmt(bestP50('trivial', name), 1)} µs`,
  );
}
if (pyThread)
  console.log(`  ${'Python ThreadPoolExecutor'.padEnd(28)} ${fmt(pyThread.tasksPerSec!)} tasks/s`);

const cpu = best('cpu', peers, 2, (r) => -r.ms!);
const main = best('main', ['main thread'], 2, (r) => -r.ms!).get('main thread')!;
console.log(
  '\nCPU-bound task (~5 ms of arithmetic) × 200: speedup over the main thread alone (ideal 2×)',
);
console.log(`  ${'main thread alone'.padEnd(28)} ${fmt(main.ms!)} ms`);
for (const [name, r] of cpu) {
  const speedup = main.ms! / r.ms!;
  console.log(
    `  ${name.padEnd(28)} ${fmt(r.ms!)} ms   ${speedup.toFixed(2)}×  (${Math.round((speedup / 2) * 100)}% of ideal)`,
  );
}

const startup = best('startup', peers, 3, (r) => -r.ms!);
console.log('\nTime from new to the first result');
for (const [name, r] of startup) console.log(`  ${name.padEnd(28)} ${fmt(r.ms!, 1)} ms`);

const procs = best('process', ['switchyard', 'tinypool', 'workerpool'], 2, (r) => r.tasksPerSec!);
const pyProcess = python('process');
console.log('\nProcesses: trivial task, 30,000 tasks, 256 in flight (Python: 20,000)');
for (const [name, r] of procs) console.log(`  ${name.padEnd(28)} ${fmt(r.tasksPerSec!)} tasks/s`);
if (pyProcess)
  console.log(
    `  ${'Python ProcessPoolExecutor'.padEnd(28)} ${fmt(pyProcess.tasksPerSec!)} tasks/s`,
  );

const ours = trivial.get('switchyard')!;
const pisc = trivial.get('piscina')!;
const oursCpu = main.ms! / cpu.get('switchyard')!.ms! / 2;
const oursProc = procs.get('switchyard')!.tasksPerSec!;
const wpProc = procs.get('workerpool')!.tasksPerSec!;
console.log('\nGoals');
const ratio = ours.tasksPerSec! / pisc.tasksPerSec!;
console.log(
  `  trivial throughput vs piscina: ${ratio.toFixed(2)}× (goal ≥ 3×) ${verdict(ratio >= 3)}`,
);
if (pyThread) {
  const r = ours.tasksPerSec! / pyThread.tasksPerSec!;
  console.log(
    `  trivial throughput vs Python ThreadPoolExecutor: ${r.toFixed(2)}× (goal ≥ 1×) ${verdict(r >= 1)}`,
  );
}
const oursP50 = bestP50('trivial', 'switchyard');
const piscP50 = bestP50('trivial', 'piscina');
console.log(
  `  p50 round trip vs piscina: ${fmt(oursP50, 1).trim()} vs ${fmt(piscP50, 1).trim()} µs (goal: no worse) ${verdict(oursP50 <= piscP50 * 1.05)}`,
);
console.log(
  `  CPU-bound scaling: ${Math.round(oursCpu * 100)}% of ideal (goal ≥ 95%) ${verdict(oursCpu >= 0.95)}`,
);
console.log(
  `  ProcessPool vs workerpool processes: ${(oursProc / wpProc).toFixed(2)}× (goal ≥ 1×) ${verdict(oursProc >= wpProc)}`,
);
if (pyProcess) {
  const r = oursProc / pyProcess.tasksPerSec!;
  console.log(
    `  ProcessPool vs Python ProcessPoolExecutor: ${r.toFixed(2)}× (goal ≥ 5×) ${verdict(r >= 5)}`,
  );
}
rmSync(dist, { recursive: true, force: true });
