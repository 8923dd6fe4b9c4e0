/**
 * The pipeline benchmark: 1,000,000 items through three trivial stages (concurrency 16) beside
 * Node's `Readable.from(…).map(fn, { concurrency })` chain and a hand-written p-limit chain;
 * then the same pipeline journaled to SQLite against better-sqlite3's own batched-insert rate,
 * with the event loop's p99 delay. Each contender in a fresh process, best of `ROUNDS`.
 *
 *   node --import tsx bench/pipeline/run.ts [items]
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const ITEMS = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = 2;
const script = fileURLToPath(new URL('./contenders.ts', import.meta.url));

interface Result {
  name: string;
  items: number;
  seconds: number;
  /** User + system CPU time of the contender's process during the run. */
  cpuSeconds: number;
  loopP99Ms?: number;
  extra?: string;
}

function once(name: string): Result {
  const out = execFileSync(process.execPath, ['--import', 'tsx', script, name, String(ITEMS)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Result;
}

/** Best of ROUNDS, the contenders interleaved round by round. */
function best(names: string[]): Map<string, Result> {
  const results = new Map<string, Result>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) {
      const r = once(name);
      const prev = results.get(name);
      if (prev === undefined || r.seconds < prev.seconds) results.set(name, r);
    }
  }
  return results;
}

const rate = (r: Result) => r.items / r.seconds;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12);
/** CPU microseconds per item: steadier than wall time when the machine is shared. */
const cpuPerItem = (r: Result) => (r.cpuSeconds * 1e6) / r.items;
const cpu = (r: Result) => `   cpu ${cpuPerItem(r).toFixed(2)} µs/item`;
const started = performance.now();
console.log(
  `switchyard pipeline benchmark — Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${ITEMS.toLocaleString('en-US')} items, best of ${ROUNDS} fresh processes`,
);

const labels: Record<string, string> = {
  switchyard: 'switchyard pipeline (3 × map)',
  streams: 'Readable.from().map() × 3',
  plimit: 'p-limit chain × 3',
  journaled: 'switchyard, journaled + SQLite sink',
  sqlite: 'better-sqlite3 upsert, 100/tx (floor)',
};
const all = best(['switchyard', 'streams', 'plimit', 'sqlite', 'journaled']);
console.log('\nThree trivial stages, concurrency 16 each (items/s)');
for (const name of ['switchyard', 'streams', 'plimit']) {
  console.log(`  ${labels[name]!.padEnd(40)}${fmt(rate(all.get(name)!))}${cpu(all.get(name)!)}`);
}
console.log(
  '\nJournaled (WAL, group commit; sink rows and done marks in one transaction) (items/s)',
);
for (const name of ['sqlite', 'journaled']) {
  const r = all.get(name)!;
  const loop =
    r.loopP99Ms === undefined ? '' : `, loop p99 ${r.loopP99Ms.toFixed(1)} ms, ${r.extra}`;
  console.log(`  ${labels[name]!.padEnd(40)}${fmt(rate(r))}${cpu(r)}${loop}`);
}
const vsStreams = rate(all.get('switchyard')!) / rate(all.get('streams')!);
const vsLimit = rate(all.get('switchyard')!) / rate(all.get('plimit')!);
const vsFloor = rate(all.get('journaled')!) / rate(all.get('sqlite')!);
const vsFloorCpu = cpuPerItem(all.get('sqlite')!) / cpuPerItem(all.get('journaled')!);
const p99 = all.get('journaled')!.loopP99Ms!;
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
console.log('\nRatios against the goals');
console.log(
  `  pipeline vs Node streams        ${vsStreams.toFixed(2)}×   goal ≥ 1×     ${verdict(vsStreams >= 1)}`,
);
console.log(`  pipeline vs p-limit chain       ${vsLimit.toFixed(2)}×`);
console.log(
  `  journaled vs SQLite floor       ${(vsFloor * 100).toFixed(0)}%    goal ≥ 30%    ${verdict(vsFloor >= 0.3)}`,
);
console.log(
  `  journaled vs SQLite floor, CPU  ${(vsFloorCpu * 100).toFixed(0)}%    (CPU time per item)`,
);
console.log(
  `  journaled loop p99              ${p99.toFixed(1)} ms  goal < 20 ms  ${verdict(p99 < 20)}`,
);
console.log(
  `\n(${((performance.now() - started) / 1000).toFixed(0)} s; the machine was shared with other work)`,
);
