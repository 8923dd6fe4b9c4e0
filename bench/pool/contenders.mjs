/**
 * One contender, one workload, in this fresh process; prints one JSON line.
 *   node bench/pool/contenders.mjs <workload> <contender> <switchyard dist dir>
 * Plain JavaScript on purpose: switchyard is measured from its build, like the peers.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';

const [workload, contender, dist] = process.argv.slice(2);
const WORKERS = 2;
const IN_FLIGHT = 256;
const TRIVIAL = 100_000;
const PROCESS_TASKS = 30_000;
const CPU_TASKS = 200;
const CPU_MS = 5;

const workerUrl = new URL('./worker.mjs', import.meta.url);
const wpScript = fileURLToPath(new URL('./workerpool-worker.cjs', import.meta.url));

async function make(kind) {
  const processes = kind === 'process';
  switch (contender) {
    case 'switchyard': {
      const sy = await import(pathToFileURL(`${dist}/pool/index.js`).href);
      const Pool = processes ? sy.ProcessPool : sy.ThreadPool;
      const pool = new Pool({ maxThreads: WORKERS, minThreads: WORKERS, maxQueue: Infinity });
      const w = pool.module(workerUrl);
      return { inc: (x) => w.addOne(x), burn: (ms) => w.burn(ms), close: () => pool.close() };
    }
    case 'piscina': {
      const { Piscina } = await import('piscina');
      const pool = new Piscina({
        filename: workerUrl.href,
        minThreads: WORKERS,
        maxThreads: WORKERS,
      });
      return {
        inc: (x) => pool.run({ x }),
        burn: (ms) => pool.run({ op: 'burn', ms }),
        close: () => pool.destroy(),
      };
    }
    case 'tinypool': {
      const { Tinypool } = await import('tinypool');
      const pool = new Tinypool({
        filename: workerUrl.href,
        minThreads: WORKERS,
        maxThreads: WORKERS,
        runtime: processes ? 'child_process' : 'worker_threads',
      });
      return {
        inc: (x) => pool.run({ x }),
        burn: (ms) => pool.run({ op: 'burn', ms }),
        close: () => pool.destroy(),
      };
    }
    case 'workerpool': {
      const workerpool = (await import('workerpool')).default;
      const pool = workerpool.pool(wpScript, {
        minWorkers: WORKERS,
        maxWorkers: WORKERS,
        workerType: processes ? 'process' : 'thread',
      });
      return {
        inc: (x) => pool.exec('addOne', [x]),
        burn: (ms) => pool.exec('burn', [ms]),
        close: () => pool.terminate(),
      };
    }
  }
  throw new Error(`unknown contender ${contender}`);
}

/** `n` tasks with at most IN_FLIGHT outstanding; returns tasks/s. */
async function throughput(inc, n) {
  let next = 0;
  let sum = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < n) {
      const i = next++;
      const r = await inc(i);
      sum += r - i;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const seconds = (performance.now() - started) / 1000;
  if (sum !== n) throw new Error(`wrong results: ${sum} != ${n}`);
  return n / seconds;
}

async function p50(inc, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await inc(i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(n / 2)] * 1000;
}

const result = { workload, contender };
if (workload === 'startup') {
  const t = performance.now();
  const pool = await make('thread');
  await pool.inc(1);
  result.ms = performance.now() - t;
  await pool.close();
} else if (workload === 'trivial') {
  const pool = await make('thread');
  await throughput(pool.inc, 10_000); // warm-up
  result.tasksPerSec = await throughput(pool.inc, TRIVIAL);
  result.p50us = await p50(pool.inc, 3_000);
  await pool.close();
} else if (workload === 'cpu') {
  const pool = await make('thread');
  await Promise.all(Array.from({ length: 4 }, () => pool.burn(CPU_MS)));
  const t = performance.now();
  await Promise.all(Array.from({ length: CPU_TASKS }, () => pool.burn(CPU_MS)));
  result.ms = performance.now() - t;
  await pool.close();
} else if (workload === 'process') {
  const pool = await make('process');
  await throughput(pool.inc, 3_000);
  result.tasksPerSec = await throughput(pool.inc, PROCESS_TASKS);
  await pool.close();
} else if (workload === 'main') {
  const { burn } = await import(workerUrl.href);
  burn(CPU_MS * 4);
  const t = performance.now();
  for (let i = 0; i < CPU_TASKS; i++) burn(CPU_MS);
  result.ms = performance.now() - t;
}
console.log(JSON.stringify(result));
process.exit(0);
