/**
 * The resilience benchmark: per-call overhead of a composed timeout + retry + breaker + bulkhead
 * around a trivial async function, beside cockatiel's `wrap` and opossum, and the bare call.
 * Every contender runs in a fresh child process, twice, interleaved; each keeps its best round.
 *
 *   node --import tsx bench/resilience/run.ts
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { CALLS, names } from './contenders.ts';

const script = fileURLToPath(new URL('./contenders.ts', import.meta.url));
const floorScript = fileURLToPath(new URL('./floor.ts', import.meta.url));
const PASSES = 2;

const started = performance.now();
console.log(
  `switchyard resilience benchmark — Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}`,
);
console.log(
  `${CALLS.toLocaleString('en-US')} sequential awaited calls of an async function that yields once;\n` +
    `each figure: the best of 7 rounds (after 2 warm-up rounds) in each of ${PASSES} fresh processes;\n` +
    'ns = CPU time (user + system) of the process per call, so that waits for a core on a shared\n' +
    'machine are left out (the loop never waits, so on an idle machine the two are close)\n',
);

const best = new Map<string, number>();
for (let pass = 0; pass < PASSES; pass++) {
  for (const name of names) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', script, name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const { nsPerCall } = JSON.parse(out.trim().split('\n').at(-1)!) as { nsPerCall: number };
    best.set(name, Math.min(best.get(name) ?? Number.POSITIVE_INFINITY, nsPerCall));
  }
}

const bare = best.get('bare call')!;
console.log(`  ${'contender'.padEnd(56)}${'ns/call'.padStart(9)}${'overhead'.padStart(11)}`);
for (const name of names) {
  const ns = best.get(name)!;
  const overhead = name === 'bare call' ? '' : `${Math.round(ns - bare)} ns`;
  console.log(
    `  ${name.padEnd(56)}${Math.round(ns).toString().padStart(9)}${overhead.padStart(11)}`,
  );
}

const ours = best.get('switchyard timeout+retry+breaker+bulkhead')! - bare;
const theirs = best.get('cockatiel wrap(timeout, retry, breaker, bulkhead)')! - bare;
const opossum = best.get('opossum (timeout + breaker + capacity; no retry)')! - bare;
const composed = best.get('switchyard timeout+retry+breaker+bulkhead')!;
console.log('\nRatios against the goals');
const line = (label: string, value: number, goal: string, met: boolean) =>
  console.log(
    `  ${label.padEnd(44)}${value.toFixed(2).padStart(6)}×   goal ${goal}   ${met ? 'met' : 'NOT met'}`,
  );
line('overhead vs cockatiel wrap overhead', ours / theirs, '≤ 1×', ours <= theirs);
line('composed call vs bare call', composed / bare, '≤ 2×', composed <= 2 * bare);
console.log(
  `  ${'overhead vs opossum overhead'.padEnd(44)}${(ours / opossum).toFixed(2).padStart(6)}×   (no goal; opossum does no retry)`,
);
const floorRow = best.get('floor: a clock read + 4 × .then around the call')!;
console.log(
  `  ${'floor row vs bare call'.padEnd(44)}${(floorRow / bare).toFixed(2).padStart(6)}×   (no goal; four layers with a deadline do at least this)`,
);
const withSignal = best.get('switchyard, the work takes the signal')! - bare;
const theirsWithSignal = best.get('cockatiel, the work takes the signal')! - bare;
console.log(
  `  ${'overhead vs cockatiel, the work takes signal'.padEnd(44)}${(withSignal / theirsWithSignal).toFixed(2).padStart(6)}×   (no goal; the timeout's AbortSignal is then made)`,
);
const noTimeout = best.get('switchyard retry+breaker+bulkhead (no timeout)')!;
console.log(
  `  ${'retry+breaker+bulkhead vs bare call'.padEnd(44)}${(noTimeout / bare).toFixed(2).padStart(6)}×   (no goal; without the timeout)`,
);

const floor = JSON.parse(
  execFileSync(process.execPath, ['--import', 'tsx', floorScript], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .at(-1)!,
) as Record<string, number>;
const why: Record<string, string> = {
  'performance.now()': 'a timeout in compose reads the clock once a call',
  'setTimeout + clearTimeout': 'an eager timeout, every call',
  'new AbortController().signal': 'once the work or a wait needs the signal',
};
console.log(
  '\nWhat a timeout costs at least on this Node (CPU ns per operation, a fresh process, best of 7)',
);
for (const [name, ns] of Object.entries(floor)) {
  console.log(
    `  ${name.padEnd(44)}${Math.round(ns).toString().padStart(6)}   (${why[name] ?? ''})`,
  );
}
console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s`);
