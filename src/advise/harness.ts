/**
 * The program `advise()` forks to measure a function: a fresh child process, so that a crash, a
 * hang or a memory blow-up cannot take the caller down, and so that the CPU time we read is the
 * function's own thread's.
 *
 * It imports only Node built-ins and starts no thread. The function runs on this process's main
 * thread: the same kind of thread as the loop it would run on, and as a pool worker's.
 *
 * Per call it records:
 * - wall time (performance.now);
 * - CPU time: `process.threadCpuUsage()` where it exists (Node ≥ 23.9: this thread only), else
 *   `process.cpuUsage()` — the whole process, which runs nothing but the call, so that is the
 *   call's thread plus V8's helper threads (parallel GC, JIT) working for it;
 * - on Linux, from `/proc/self/task/<pid>/schedstat`, the time this thread spent runnable but
 *   waiting for a core (another program holding the CPUs), which every "blocked" figure is net
 *   of;
 * - the longest stretch the loop could not run: the synchronous part of the call, and, while
 *   the call is pending, the loop's busy time between ticks of a 1 ms timer (busy = wall minus
 *   the loop's idle time from `performance.eventLoopUtilization()`, so idle waiting between
 *   ticks never counts; a stretch lies wholly between two ticks because no tick can run
 *   during it);
 * - event-loop utilisation over the call;
 * - memory retained after the call (heap used + external after a forced full GC).
 */
import { openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { deserialize, serialize } from 'node:v8';
import type { ChildMessage, CloneCost, CpuSource, RawSample, StartMessage } from './protocol.ts';

type Fn = (...args: unknown[]) => unknown;

interface CpuReading {
  cpuNs: number;
  runQueueNs: number;
}

const procBuffer = Buffer.alloc(1024);

/**
 * A /proc file kept open and re-read with one pread at offset 0 (the kernel regenerates it):
 * a single syscall, cheap enough for the 1 ms ticker. Null where it cannot be opened.
 */
function procReader(path: string): (() => string) | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  const read = () =>
    procBuffer.toString('latin1', 0, readSync(fd, procBuffer, 0, procBuffer.length, 0));
  try {
    read();
  } catch {
    return null;
  }
  return read;
}

const schedstat = procReader(`/proc/self/task/${process.pid}/schedstat`);
const procStat = procReader('/proc/self/stat');

/** Linux: nanoseconds this thread spent runnable but waiting for a core; -1 elsewhere. */
function runQueueNs(): number {
  return schedstat === null ? -1 : Number(schedstat().split(' ')[1]);
}

/**
 * Linux: CPU time (user + system) of the child processes this process started and waited for
 * (`cutime` + `cstime` of /proc/self/stat, which include their own waited-for children), ms, in
 * clock ticks of 10 ms (USER_HZ is 100 on Linux); -1 elsewhere.
 */
function childrenCpuMs(): number {
  if (procStat === null) return -1;
  const text = procStat();
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

interface CpuClock {
  source: CpuSource;
  /** Reads the CPU clock first: for the end of a window. */
  read: () => CpuReading;
  /** Reads the CPU clock last: for the start of a window. */
  readFirst: () => CpuReading;
}

function pickCpuSource(): CpuClock {
  const rq = runQueueNs() >= 0 ? runQueueNs : () => 0;
  const threadCpuUsage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage;
  if (typeof threadCpuUsage === 'function') {
    const read = () => {
      const u = threadCpuUsage.call(process);
      return { cpuNs: (u.user + u.system) * 1000, runQueueNs: rq() };
    };
    return { source: 'thread', read, readFirst: read };
  }
  // getrusage(RUSAGE_SELF): microsecond-precise, and this process runs nothing but the call;
  // it includes V8's helper threads (parallel GC, JIT) working for it. schedstat's per-thread
  // sum is updated only at scheduler events (it reads 0 for a 0.3 ms call), so it is no clock.
  return {
    source: 'process',
    read: () => {
      const u = process.cpuUsage();
      return { cpuNs: (u.user + u.system) * 1000, runQueueNs: rq() };
    },
    readFirst: () => {
      const runQueue = rq(); // before the clock, so reading it is not counted
      const u = process.cpuUsage();
      return { cpuNs: (u.user + u.system) * 1000, runQueueNs: runQueue };
    },
  };
}

const cpu = pickCpuSource();
const readRunQueue = runQueueNs() >= 0 ? runQueueNs : () => 0;
const gc = (globalThis as { gc?: () => void }).gc;

function send(message: ChildMessage, then?: () => void): void {
  process.send!(message, undefined, undefined, then ? () => then() : undefined);
}

function retained(): number {
  if (gc === undefined) return -1;
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

function plainError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const { name, message, stack } = error;
  const code = (error as { code?: unknown }).code;
  return { name, message, stack, code: typeof code === 'string' ? code : undefined };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

async function load(url: string, name: string): Promise<Fn> {
  const mod = (await import(url)) as Record<string, unknown>;
  let fn = mod[name];
  if (fn === undefined && typeof mod.default === 'object' && mod.default !== null) {
    fn = (mod.default as Record<string, unknown>)[name]; // a CommonJS module's exports
  }
  if (typeof fn !== 'function') {
    const exported = Object.keys(mod).filter((key) => typeof mod[key] === 'function');
    throw new TypeError(
      `${url} has no exported function named "${name}" (its functions: ${exported.join(', ') || 'none'})`,
    );
  }
  return fn as Fn;
}

const ms = (ns: number) => ns / 1e6;

async function measure(fn: Fn, args: unknown[], warmup: boolean): Promise<[RawSample, unknown]> {
  const elu0 = performance.eventLoopUtilization();
  // The clocks are read just outside the window [t0, end], so their cost is not the call's. A
  // wait for a core between a read and the window's edge (reading /proc is a syscall: a
  // preemption point) lands in the run-queue figure but not in the window; `tBefore` and the
  // read after the end bound that, and only run-queue time that provably lay inside the window
  // is taken off (on a loaded machine it once exceeded the whole call).
  const tBefore = performance.now();
  const c0 = cpu.readFirst();
  const t0 = performance.now();
  let value = fn(...args);
  const syncEnd = performance.now();
  const cSync = cpu.read();
  const tSync = performance.now();
  const syncMs = syncEnd - t0;
  const inside = (rqNs: number, end: number, after: number) =>
    Math.max(0, ms(rqNs - c0.runQueueNs) - (t0 - tBefore) - (after - end));
  let blockedMs = syncMs - inside(cSync.runQueueNs, syncEnd, tSync);
  let instrumentMs = 0;
  const async = isThenable(value);
  if (async) {
    // While the call is pending: the loop's busy time between consecutive 1 ms ticks.
    // The ticker's own work (its readings) is timed and taken off the call's loop time and CPU
    // below; the stretch between two ticks holds none of it.
    let lastActive = performance.eventLoopUtilization().active;
    let lastRq = cSync.runQueueNs;
    const step = () => {
      const started = performance.now();
      const active = performance.eventLoopUtilization().active;
      const rq = readRunQueue();
      blockedMs = Math.max(blockedMs, active - lastActive - ms(rq - lastRq));
      lastRq = rq;
      const now = performance.now();
      instrumentMs += now - started;
      lastActive = active + (now - started);
    };
    const ticker = setInterval(step, 1);
    try {
      value = await value;
    } finally {
      clearInterval(ticker);
      step(); // the tail: the stretch that settled the promise
    }
  }
  // A synchronous call ended at syncEnd; an asynchronous one when its promise settled.
  const t1 = async ? performance.now() : syncEnd;
  const c1 = async ? cpu.read() : cSync;
  const tEnd = async ? performance.now() : tSync;
  const elu = performance.eventLoopUtilization(elu0);
  const wallMs = t1 - t0;
  const sample: RawSample = {
    warmup,
    wallMs,
    cpuMs: Math.max(0, ms(c1.cpuNs - c0.cpuNs) - instrumentMs),
    runQueueMs: Math.min(wallMs, inside(c1.runQueueNs, t1, tEnd)),
    syncMs,
    blockedMs: Math.max(0, blockedMs),
    elu: wallMs > 0 ? Math.min(1, Math.max(0, elu.active - instrumentMs) / wallMs) : 1,
    instrumentMs,
    retainedBytes: -1,
  };
  return [sample, value];
}

function cloneCost(value: unknown): CloneCost {
  try {
    let best = Number.POSITIVE_INFINITY;
    let bytes = 0;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const buffer = serialize(value);
      deserialize(buffer);
      best = Math.min(best, performance.now() - t0);
      bytes = buffer.length;
    }
    return { bytes, ms: best };
  } catch (error) {
    return { bytes: -1, ms: 0, error: error instanceof Error ? error.message : String(error) };
  }
}

async function run(start: StartMessage): Promise<void> {
  let fn: Fn;
  try {
    fn = await load(start.moduleUrl, start.exportName);
  } catch (error) {
    send({ type: 'load-error', error: plainError(error) }, () => process.exit(0));
    return;
  }
  send({ type: 'loaded', cpuSource: cpu.source, baselineRetainedBytes: retained() });
  const total = start.warmup + start.runs;
  let result: unknown;
  let childrenFrom = -1;
  for (let index = 0; index < total; index++) {
    if (index === start.warmup) childrenFrom = childrenCpuMs();
    result = undefined;
    let sample: RawSample;
    try {
      [sample, result] = await measure(fn, start.args, index < start.warmup);
    } catch (error) {
      send({ type: 'threw', index, error: plainError(error) }, () => process.exit(0));
      return;
    }
    sample.retainedBytes = retained();
    send({ type: 'sample', index, sample });
    // Let V8's helper threads finish after the forced GC (concurrent sweeping), so their CPU
    // is not charged to the next call.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  // Children the calls started are reaped by now (each call is followed by a 5 ms pause).
  const childrenTo = childrenCpuMs();
  send(
    {
      type: 'done',
      args: cloneCost(start.args),
      result: cloneCost(result),
      childCpuMs: childrenFrom >= 0 && childrenTo >= 0 ? childrenTo - childrenFrom : -1,
    },
    () => process.exit(0),
  );
}

process.once('message', (message: StartMessage) => {
  void run(message);
});
// The parent went away: nothing is listening any more.
process.once('disconnect', () => process.exit(0));
