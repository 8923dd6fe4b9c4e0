// One contender of the TaskGroup benchmark, run in a fresh process by task-group.ts so that
// JIT state and process-wide switches (AsyncLocalStorage) of one cannot colour another.
// Prints one JSON line: { name, tasksPerSecond } (the median of the measured rounds).
import { enableTaskTracing, TaskGroup } from '../../src/index.ts';

const TASKS = 100_000;
const ROUNDS = 9;
const WARMUP = 3;

// The trivial task: an async function that yields once, like a task that awaits a resolved
// I/O result. Defined once, outside the loops, as a user would.
const work = async (): Promise<number> => {
  await null;
  return 1;
};
const workWithSignal = async (signal: AbortSignal): Promise<number> => {
  await null;
  return signal.aborted ? 0 : 1;
};

const contenders: Record<string, () => Promise<unknown>> = {
  'Promise.all (floor)': () => {
    const all = new Array<Promise<number>>(TASKS);
    for (let i = 0; i < TASKS; i++) all[i] = work();
    return Promise.all(all);
  },
  TaskGroup: () => {
    const tg = new TaskGroup();
    for (let i = 0; i < TASKS; i++) tg.spawn(work);
    return tg.wait();
  },
  'TaskGroup, tasks take a signal': () => {
    const tg = new TaskGroup();
    for (let i = 0; i < TASKS; i++) tg.spawn(workWithSignal);
    return tg.wait();
  },
  'TaskGroup, tracing on': () => {
    const tg = new TaskGroup();
    for (let i = 0; i < TASKS; i++) tg.spawn(work);
    return tg.wait();
  },
};

const name = process.argv[2] ?? '';
const run = contenders[name];
if (run === undefined) {
  process.stderr.write(
    `unknown contender "${name}"; one of: ${Object.keys(contenders).join(', ')}\n`,
  );
  process.exit(2);
}
if (name === 'TaskGroup, tracing on') enableTaskTracing();

const rates: number[] = [];
for (let round = 0; round < WARMUP + ROUNDS; round++) {
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  if (round >= WARMUP) rates.push(TASKS / seconds);
}
rates.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({ name, tasksPerSecond: rates[Math.floor(rates.length / 2)] })}\n`,
);

export { contenders };
