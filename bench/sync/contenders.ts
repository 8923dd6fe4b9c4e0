/**
 * One contender of the sync/queue benchmark, run in its own process by `bench/sync/run.ts`
 * so that no contender inherits another's JIT state or heap:
 *   node --import tsx bench/sync/contenders.ts <workload> <contender>
 * Prints one JSON line: { workload, contender, opsPerSec (best round), rounds }.
 */
import { Semaphore as MutexSemaphore } from 'async-mutex';
import fastq from 'fastq';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { Queue } from '../../src/queue/index.ts';
import { Semaphore } from '../../src/sync/index.ts';

export const TASKS = 200_000;
export const CONCURRENCY = 50;
export const QUEUE_ITEMS = 1_000_000;
export const QUEUE_MAXSIZE = 100;
export const ACQUIRES = 2_000_000;
export const HANDOVERS = 1_000_000;
/** The acquire workload's floor row: the cost of the `await` alone. */
export const ACQUIRE_FLOOR = 'await Promise.resolve({}) (floor)';
const ROUNDS = 5;
/** Contenders too slow for warm-up plus ROUNDS rounds within the time budget. */
const SLOW = new Set(['run/async-mutex Semaphore']);

type Round = () => Promise<number>; // returns operations done

/** N trivial async tasks, at most CONCURRENCY at once, all awaited. */
function runWorkload(submit: (task: () => Promise<number>) => Promise<number>): Round {
  return async () => {
    const all = new Array<Promise<number>>(TASKS);
    for (let i = 0; i < TASKS; i++) all[i] = submit(async () => i);
    await Promise.all(all);
    return TASKS;
  };
}

const rounds: Record<string, Record<string, () => Round>> = {
  run: {
    'switchyard Semaphore.run': () => {
      const sem = new Semaphore(CONCURRENCY);
      return runWorkload((task) => sem.run(task));
    },
    'p-limit': () => {
      const limit = pLimit(CONCURRENCY);
      return runWorkload((task) => limit(task));
    },
    'p-queue': () => {
      const queue = new PQueue({ concurrency: CONCURRENCY });
      return runWorkload((task) => queue.add(task));
    },
    // Its waiter queue is an array it splices into: quadratic, ~15 s per round at this size,
    // so it gets a single round (see SLOW).
    'async-mutex Semaphore': () => {
      const sem = new MutexSemaphore(CONCURRENCY);
      return runWorkload((task) => sem.runExclusive(task));
    },
    fastq: () => {
      const queue = fastq.promise((task: () => Promise<number>) => task(), CONCURRENCY);
      return runWorkload((task) => queue.push(task));
    },
    'Promise.all (no limit, floor)': () => runWorkload((task) => task()),
  },
  queue: {
    'switchyard Queue': () => async () => {
      const queue = new Queue<number>({ maxsize: QUEUE_MAXSIZE });
      const producer = (async () => {
        for (let i = 0; i < QUEUE_ITEMS; i++) await queue.put(i);
      })();
      let sum = 0;
      for (let i = 0; i < QUEUE_ITEMS; i++) sum += await queue.get();
      await producer;
      if (sum !== (QUEUE_ITEMS * (QUEUE_ITEMS - 1)) / 2) throw new Error('lost items');
      return QUEUE_ITEMS;
    },
  },
  acquire: {
    'switchyard Semaphore': () => {
      const sem = new Semaphore(1);
      return async () => {
        for (let i = 0; i < ACQUIRES; i++) {
          const permit = await sem.acquire();
          permit.release();
        }
        return ACQUIRES;
      };
    },
    'async-mutex Semaphore': () => {
      const sem = new MutexSemaphore(1);
      return async () => {
        for (let i = 0; i < ACQUIRES; i++) {
          const [, release] = await sem.acquire();
          release();
        }
        return ACQUIRES;
      };
    },
    // No semaphore at all: one await of a fresh promise of a fresh object per iteration, the
    // least any promise-returning acquire() can cost. Not a contender; it bounds the ratios.
    [ACQUIRE_FLOOR]: () => async () => {
      for (let i = 0; i < ACQUIRES; i++) await Promise.resolve(new Object());
      return ACQUIRES;
    },
  },
  // Two tasks taking turns on one permit: every acquire waits and every release hands over.
  handover: {
    'switchyard Semaphore': () => {
      const sem = new Semaphore(1);
      const worker = async () => {
        for (let i = 0; i < HANDOVERS / 2; i++) {
          const permit = await sem.acquire();
          await null;
          permit.release();
        }
      };
      return async () => {
        await Promise.all([worker(), worker()]);
        return HANDOVERS;
      };
    },
    'async-mutex Semaphore': () => {
      const sem = new MutexSemaphore(1);
      const worker = async () => {
        for (let i = 0; i < HANDOVERS / 2; i++) {
          const [, release] = await sem.acquire();
          await null;
          release();
        }
      };
      return async () => {
        await Promise.all([worker(), worker()]);
        return HANDOVERS;
      };
    },
  },
};

export const contenders = Object.fromEntries(
  Object.entries(rounds).map(([workload, byName]) => [workload, Object.keys(byName)]),
);

async function main(workload: string, contender: string): Promise<void> {
  const make = rounds[workload]?.[contender];
  if (make === undefined) throw new Error(`unknown contender ${workload}/${contender}`);
  const round = make();
  const slow = SLOW.has(`${workload}/${contender}`);
  if (!slow) await round(); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < (slow ? 1 : ROUNDS); r++) {
    const started = performance.now();
    const ops = await round();
    rates.push(ops / ((performance.now() - started) / 1000));
  }
  // The best round: on a shared machine, other processes only ever slow a round down.
  const best = Math.max(...rates);
  process.stdout.write(
    `${JSON.stringify({ workload, contender, opsPerSec: best, rounds: rates.length })}\n`,
  );
}

if (process.argv[1]?.endsWith('contenders.ts') && process.argv.length >= 4) {
  await main(process.argv[2]!, process.argv[3]!);
}
