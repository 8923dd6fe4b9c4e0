/**
 * How many cores' worth of CPU this program can get right now. A machine's core count is what it
 * has, not what a CPU-bound pool gets on it: other programs' threads compete for the same cores,
 * and Linux's autogroup scheduling gives a whole session one share, however many threads it
 * runs. So it is measured: a fixed CPU burst (integer arithmetic, no allocation) on one thread
 * alone, then on `threads` threads at once, twice, alternating so that a load that changes during
 * the measurement weighs on both; the parallelism is the work done by all of them over the work
 * done by one alone in the same time.
 */
import { Worker } from 'node:worker_threads';
import { onAbort } from '../cancel/on-abort.ts';

/**
 * Each window of the measurement, ms (four of them, after a warm-up one). Not shorter: a thread
 * that has been idle gets a burst of extra CPU from the scheduler at first (sleeper credit), so
 * 40 ms windows read near-full parallelism on a machine where a sustained pool got ~1 core.
 */
export const CALIBRATION_WINDOW_MS = 100;

// CommonJS, evaluated in each worker: spins in units of fixed work until the window ends and
// answers with the number of units done.
const BURST = `
const { parentPort } = require('node:worker_threads');
let x = 1;
parentPort.on('message', (ms) => {
  const end = performance.now() + ms;
  let units = 0;
  do {
    for (let i = 0; i < 20000; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
    units++;
  } while (performance.now() < end);
  parentPort.postMessage(units + (x === 0.5 ? 1 : 0));
});
`;

export interface Parallelism {
  /** Threads that ran the burst at once. */
  threads: number;
  /** Work done by all of them over the work done by one alone, clamped to [1, threads]. */
  parallelism: number;
}

/**
 * Measures the parallelism available to this process on `threads` threads (≈ 5 ×
 * CALIBRATION_WINDOW_MS plus starting the threads). Rejects with the signal's reason when aborted;
 * the threads are stopped either way.
 */
export async function measureParallelism(
  threads: number,
  options: { signal?: AbortSignal | undefined; windowMs?: number | undefined } = {},
): Promise<Parallelism> {
  const { signal, windowMs = CALIBRATION_WINDOW_MS } = options;
  signal?.throwIfAborted();
  if (threads <= 1) return { threads, parallelism: 1 };
  const workers = Array.from(
    { length: threads },
    () => new Worker(BURST, { eval: true, execArgv: [], stdout: false, stderr: false }),
  );
  let unsubscribe = () => {};
  const aborted = new Promise<never>((_, reject) => {
    if (signal !== undefined) unsubscribe = onAbort(signal, reject);
  });
  aborted.catch(() => {});
  const burst = (worker: Worker) =>
    new Promise<number>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      // A thread that dies without an 'error' event would otherwise leave its burst waiting.
      const onExit = (code: number) =>
        reject(new Error(`advise: a calibration thread exited (code ${code})`));
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.once('message', (units: number) => {
        worker.off('error', onError);
        worker.off('exit', onExit);
        resolve(units);
      });
      worker.postMessage(windowMs);
    });
  try {
    // Every thread started and warmed up (its burst compiled) before anything is counted.
    await Promise.race([Promise.all(workers.map(burst)), aborted]);
    let alone = 0;
    let together = 0;
    for (let round = 0; round < 2; round++) {
      alone += await Promise.race([burst(workers[0]!), aborted]);
      const all = await Promise.race([Promise.all(workers.map(burst)), aborted]);
      together += all.reduce((a, b) => a + b, 0);
    }
    const ratio = together / Math.max(1, alone);
    return { threads, parallelism: Math.min(threads, Math.max(1, ratio)) };
  } finally {
    unsubscribe();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
