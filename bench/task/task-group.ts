// Benchmark: 100,000 trivial tasks spawned into one TaskGroup, beside bare Promise.all (the
// floor) and Python's asyncio.TaskGroup. Each contender runs in a fresh process; figures are
// medians of 9 rounds after 3 warm-up rounds. Absolute numbers are noise on shared machines;
// the ratios, measured side by side in one run, are what count.
//
//   npm run bench:task
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

interface Figure {
  name: string;
  tasksPerSecond: number;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

function node(contender: string): Figure {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', here('./contenders.ts'), contender],
    {
      encoding: 'utf8',
    },
  );
  return JSON.parse(out) as Figure;
}

function python(): Figure | undefined {
  try {
    return JSON.parse(
      execFileSync('python3', [here('./asyncio_task_group.py')], { encoding: 'utf8' }),
    ) as Figure;
  } catch (error) {
    process.stderr.write(`asyncio contender skipped: ${(error as Error).message.split('\n')[0]}\n`);
    return undefined;
  }
}

const floor = node('Promise.all (floor)');
const group = node('TaskGroup');
const withSignal = node('TaskGroup, tasks take a signal');
const traced = node('TaskGroup, tracing on');
const asyncio = python();

const rate = (f: Figure) => `${Math.round(f.tasksPerSecond).toLocaleString('en-US')}/s`;
const rows = [floor, group, withSignal, traced, ...(asyncio ? [asyncio] : [])];
const width = Math.max(...rows.map((r) => r.name.length));
console.log(`100,000 trivial tasks in one group (node ${process.version}, median of 9 rounds)\n`);
for (const row of rows) {
  const vsFloor = (row.tasksPerSecond / floor.tasksPerSecond).toFixed(2);
  console.log(`  ${row.name.padEnd(width)}  ${rate(row).padStart(12)}  ${vsFloor}× the floor`);
}
console.log('');
const check = (label: string, ratio: number, goal: number) =>
  console.log(
    `  ${label}: ${ratio.toFixed(2)}× (goal ≥ ${goal}×) ${ratio >= goal ? 'met' : 'NOT met'}`,
  );
check('TaskGroup vs Promise.all', group.tasksPerSecond / floor.tasksPerSecond, 0.5);
if (asyncio)
  check('TaskGroup vs asyncio.TaskGroup', group.tasksPerSecond / asyncio.tasksPerSecond, 5);
