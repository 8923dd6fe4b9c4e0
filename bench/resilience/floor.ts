// What any deadline-with-a-signal costs at least on this Node, per call, outside any library:
// the operations an eager timeout does on every call, and the clock read a deferred one does.
// Run in a fresh process by run.ts; prints one JSON line { name: nsPerOp, … }.
const OPS = 200_000;
const ROUNDS = 7;
const noop = () => {};
let sink: unknown;

const ops: Record<string, () => void> = {
  'performance.now()': () => {
    sink = performance.now();
  },
  'setTimeout + clearTimeout': () => {
    clearTimeout(setTimeout(noop, 1_000));
  },
  'new AbortController().signal': () => {
    sink = new AbortController().signal;
  },
};

const result: Record<string, number> = {};
for (const [name, op] of Object.entries(ops)) {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS + 1; round++) {
    const started = process.cpuUsage();
    for (let i = 0; i < OPS; i++) op();
    const { user, system } = process.cpuUsage(started);
    const ns = ((user + system) * 1e3) / OPS;
    if (round > 0) best = Math.min(best, ns);
  }
  result[name] = best;
}
void sink;
process.stdout.write(`${JSON.stringify(result)}\n`);
