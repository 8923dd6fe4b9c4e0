/**
 * The decision: from measured figures to a lane, a reason and an estimate. Pure functions, so
 * the rules can be tested on numbers alone.
 */
import type {
  CallFigures,
  Estimate,
  Failure,
  Lane,
  LaneEstimate,
  MemoryFigures,
  TransferFigures,
  Verdict,
  WorkloadKind,
} from './types.ts';

/** Round trip of one task through a ThreadPool with nothing else in flight (docs/pools.md). */
export const THREAD_DISPATCH_MS = 0.06;
/** The same through a ProcessPool (IPC over a pipe, both ways serialised). */
export const PROCESS_DISPATCH_MS = 0.15;
/** A call that never holds the loop this long is loop work, whatever else it does. */
export const LOOP_STRETCH_MS = 1;
/** Holding the loop this long at a time hurts everything else on it, throughput or not. */
export const RESPONSIVENESS_MS = 10;
/**
 * Below this CPU share of the blocked time, the call blocks rather than computes. Not 0.5: on a
 * virtual machine the host can steal the vCPU mid-call, which no guest clock sees as waiting
 * (CPU-bound calls measured 0.6–1.0 on the shared machine; blocking ones under 0.05).
 */
export const COMPUTE_SHARE = 0.25;
/** The most threads advised for work that blocks without computing. */
export const MAX_BLOCKING_THREADS = 16;
/** Moving to a thread must win at least this much, unless the call hurts responsiveness. */
export const MIN_SPEEDUP = 1.2;

export interface DecideInput {
  calls: CallFigures | null;
  transfer: TransferFigures | null;
  memory: MemoryFigures;
  failure: Failure | null;
  timeoutMs: number;
  cores: number;
  /** Cores' worth of CPU measured available now (see parallelism.ts); default `cores`. */
  parallelism?: number | undefined;
  concurrency: number;
  /** The 1-minute load average when measured (os.loadavg()[0]); 0 where unknown. */
  load?: number | undefined;
}

const EPSILON_MS = 0.001;

export function decide(input: DecideInput): { verdict: Verdict; estimate: Estimate | null } {
  const { calls, transfer, memory, failure } = input;
  const notes: string[] = [];
  const warnings: string[] = [];
  if (failure !== null) {
    return { verdict: failed(input, failure), estimate: null };
  }
  if (calls === null) throw new Error('advise: no calls and no failure'); // unreachable

  const wall = calls.wallMs.median;
  const cpu = calls.cpuMs.median;
  const rq = calls.runQueueMs.median;
  const blocked = calls.blockedMs.median;
  const wallNet = Math.max(EPSILON_MS, wall - rq);
  const busy = Math.max(blocked, calls.elu.median * wall - rq, EPSILON_MS);
  const cloneMs = transfer?.cloneMs ?? 0;
  const parallelism = Math.min(input.cores, Math.max(1, input.parallelism ?? input.cores));
  const computes = cpu >= COMPUTE_SHARE * blocked;
  // The CPU a call costs, wherever it runs: its own, and its child processes'. A call that
  // computes holds a core for its whole stretch, even where the guest's CPU clock misses some of
  // it (a virtual machine's vCPU taken by the host).
  const cpuTotal = cpu + calls.childCpuMs;
  const coreMs = computes ? Math.max(cpuTotal, busy) : cpuTotal;
  const threads = computes
    ? input.cores
    : Math.min(
        MAX_BLOCKING_THREADS,
        Math.max(
          input.cores,
          Math.ceil((input.cores * wallNet) / Math.max(cpuTotal, wallNet / 100)),
        ),
      );
  const lanes = estimateLanes(
    { cores: parallelism, concurrency: input.concurrency },
    { wallNet, busy, cpu: coreMs, cloneMs, threads },
  );
  const estimate = (lane: Lane): Estimate => ({
    cores: input.cores,
    parallelism,
    threads,
    concurrency: input.concurrency,
    lanes,
    baselineCallsPerSec: lanes.loop,
    recommendedCallsPerSec: lanes[lane],
    speedup: lanes[lane] / lanes.loop,
  });
  if (rq > 0.2 * wall && rq > 1) {
    warnings.push(
      `the machine was busy: the thread waited ${fmt(rq)} ms per call for a core (${pct(rq / wall)} of the wall time); the figures are net of that wait, the estimate assumes ${parallelism.toFixed(1)} cores' worth of CPU`,
    );
  }
  if (transfer !== null && !transfer.cloneable) {
    warnings.push(
      `its result cannot cross a thread boundary (${transfer.error ?? 'not cloneable'}): return plain data to run it on a thread or process`,
    );
  }
  const speedupThread = lanes.thread / lanes.loop;
  if (input.parallelism !== undefined && parallelism < 0.9 * input.cores) {
    warnings.push(
      `the machine is shared: ${input.cores} threads computing at once got ${parallelism.toFixed(1)} cores' worth of CPU (measured); the estimate uses that, and a CPU-bound speedup grows when the other work stops`,
    );
  } else if ((input.load ?? 0) > 0.5 * input.cores && input.parallelism === undefined) {
    warnings.push(
      `the machine is shared (load average ${input.load!.toFixed(1)} on ${input.cores} cores): the estimate assumes ${input.cores} free cores; a CPU-bound speedup will be smaller`,
    );
  }

  if (memory.leak) {
    const growth = memory.growthBytesPerCall ?? 0;
    return {
      verdict: {
        lane: 'process',
        kind: 'leak',
        reason: `retains ${mb(growth)} more per call, call after call: it leaks; run it in a ProcessPool with maxMemoryMb so a worker is recycled before the leak takes the program down (~${times(lanes.process / lanes.loop)} the calls per second of the loop with ${threads} processes)`,
        notes,
        warnings,
      },
      estimate: estimate('process'),
    };
  }

  let lane: Lane;
  let kind: WorkloadKind;
  let reason: string;
  const holds = `blocks the loop for ${fmt(blocked)} ms per call`;
  // The loop's busy share of the call, net of run-queue waits: on a loaded machine the raw
  // utilisation counts the time the thread waited for a core mid-callback as busy.
  const busyShare = Math.min(calls.elu.median, busy / wallNet);
  const idles = busyShare < 0.5;
  if (idles && (blocked < LOOP_STRETCH_MS || (blocked < RESPONSIVENESS_MS && speedupThread < 1))) {
    // Mostly idle, and either its stretches are too short to matter, or they are short enough
    // not to hurt responsiveness while the loop, interleaving calls, out-runs a thread pool (on a
    // loaded machine a few sockets' callbacks reach 1 ms without the call being any less a wait).
    lane = 'loop';
    kind = 'io-wait';
    reason = `takes ${fmt(wall)} ms per call but holds the loop for at most ${fmt(blocked)} ms (loop busy ${pct(busyShare)}): it waits rather than computes, and the event loop interleaves many such calls; keep it on the loop (with ${input.concurrency} in flight ~${times(1 / speedupThread)} the calls per second of a ThreadPool of ${threads} threads)`;
  } else if (cloneMs >= THREAD_DISPATCH_MS && cloneMs >= busy) {
    lane = 'loop';
    kind = 'transfer-bound';
    reason = `holds the loop for ${fmt(busy)} ms per call, but copying its arguments and result to a thread and back costs ${fmt(cloneMs)} ms, more than the work: moving it would not pay; keep it on the loop`;
    warnings.push(
      `the transfer cost (${fmt(cloneMs)} ms to clone ${bytes(transfer?.argsBytes ?? 0)} of arguments and ${bytes(Math.max(0, transfer?.resultBytes ?? 0))} of result) exceeds the work (${fmt(busy)} ms): pass less data, or transfer ArrayBuffers / share a SharedArrayBuffer`,
    );
  } else if (blocked < LOOP_STRETCH_MS) {
    lane = 'loop';
    kind = 'too-small';
    reason =
      busy <= THREAD_DISPATCH_MS + cloneMs
        ? `finishes in ${fmt(busy)} ms of loop time, less than the ~${fmt(THREAD_DISPATCH_MS + cloneMs)} ms a trip to a thread and back costs; keep it on the loop`
        : `holds the loop for at most ${fmt(blocked)} ms at a time (loop busy ${pct(calls.elu.median)}, ${fmt(cpu)} ms of CPU per call): stretches that short share the loop well; keep it on the loop`;
    if (speedupThread >= 1.5) {
      notes.push(
        `at high call rates a ThreadPool of ${threads} threads would run ~${times(speedupThread)} the calls per second: worth it only if this call dominates the process's work`,
      );
    }
  } else if (
    speedupThread >= MIN_SPEEDUP ||
    (blocked >= RESPONSIVENESS_MS && speedupThread >= 0.8)
  ) {
    lane = 'thread';
    const gain =
      speedupThread >= 1.05
        ? `a ThreadPool of ${threads} threads would run ~${times(speedupThread)} the calls per second on this machine`
        : `a ThreadPool of ${threads} threads would keep the loop free at about the same calls per second`;
    if (computes) {
      kind = 'cpu';
      reason = `${holds} using ${fmt(cpu)} ms of CPU: CPU-bound; ${gain}`;
    } else {
      kind = 'blocking';
      const children =
        calls.childCpuMs > 0 ? ` (and ${fmt(calls.childCpuMs)} ms in the processes it starts)` : '';
      reason = `${holds} but uses only ${fmt(cpu)} ms of CPU${children}: it blocks rather than computes; ${gain}`;
      notes.push(
        `it blocks rather than computes (a synchronous wait: Atomics.wait, execSync, a blocking read): a waiting thread costs no CPU, so more threads than cores pay off (maxThreads: ${threads}); an asynchronous version of the call, if there is one, would belong on the loop and cost no thread at all`,
      );
    }
    if (cloneMs > 0.25 * busy) {
      warnings.push(
        `cloning arguments and result costs ${fmt(cloneMs)} ms per call, ${pct(cloneMs / busy)} of the work: pass less data, or transfer ArrayBuffers`,
      );
    }
  } else {
    lane = 'loop';
    kind = computes ? 'cpu' : 'blocking';
    reason = `${holds}, but with ${input.concurrency} calls in flight the loop runs ~${times(1 / speedupThread)} the calls per second of a ThreadPool of ${threads} threads; keep it on the loop`;
  }
  if (lane === 'loop' && blocked >= RESPONSIVENESS_MS) {
    warnings.push(
      `it holds the loop for ${fmt(blocked)} ms at a time: everything else on this loop waits that long; move its synchronous part to a thread`,
    );
  }
  return { verdict: { lane, kind, reason, notes, warnings }, estimate: estimate(lane) };
}

interface Basis {
  wallNet: number;
  busy: number;
  cpu: number;
  cloneMs: number;
  threads: number;
}

/**
 * Calls per second per lane:
 * - loop: `concurrency` calls in flight, each holding the loop `busy` ms:
 *   min(concurrency × 1000 / wall, 1000 / busy);
 * - thread / process: `threads` workers each running one call at a time (wall + dispatch), at
 *   most `cores` cores' worth of CPU (the parallelism measured available) at `cpu` ms a call (its
 *   own and its child processes'), and the main thread's share of cloning (half the round-trip
 *   clone: serialising arguments, deserialising results) on one core.
 */
export function estimateLanes(
  input: { cores: number; concurrency: number },
  b: Basis,
): LaneEstimate {
  const cpuCap = (input.cores * 1000) / Math.max(b.cpu, EPSILON_MS);
  const mainCap = 1000 / Math.max(b.cloneMs / 2 + 0.01, EPSILON_MS);
  return {
    loop: Math.min((input.concurrency * 1000) / b.wallNet, 1000 / b.busy),
    thread: Math.min(
      (b.threads * 1000) / (b.wallNet + THREAD_DISPATCH_MS + b.cloneMs / 2),
      cpuCap,
      mainCap,
    ),
    process: Math.min(
      (Math.min(b.threads, input.cores * 2) * 1000) / (b.wallNet + PROCESS_DISPATCH_MS + b.cloneMs),
      cpuCap,
      mainCap,
    ),
  };
}

function failed(input: DecideInput, failure: Failure): Verdict {
  const notes: string[] = [];
  const at = `call ${failure.call + 1}`;
  const how =
    failure.signal !== null ? `signal ${failure.signal}` : `exit code ${failure.exitCode ?? '?'}`;
  switch (failure.kind) {
    case 'hang': {
      const spent =
        failure.cpuMs === null
          ? ''
          : failure.cpuMs > 0.5 * input.timeoutMs
            ? ` spinning (${fmt(failure.cpuMs)} ms of CPU)`
            : ` waiting (${fmt(failure.cpuMs)} ms of CPU)`;
      return {
        lane: 'process',
        kind: 'hang',
        reason: `${at} did not finish within ${input.timeoutMs} ms and was killed${spent}: a hang; only a process can be stopped whatever it is stuck in: run it in a ProcessPool with taskTimeoutMs`,
        notes,
        warnings: [],
      };
    }
    case 'out-of-memory':
      return {
        lane: 'process',
        kind: 'out-of-memory',
        reason: `${at} ran out of memory (heap limit ${input.memory.limitMb} MB; ${how}): run it in a ProcessPool with resourceLimits, where a blow-up costs one worker, not the program`,
        notes,
        warnings: [],
      };
    default:
      return {
        lane: 'process',
        kind: 'crash',
        reason: `the process died during ${at} (${how}): run it in a ProcessPool, where a crash costs one worker, not the program`,
        notes,
        warnings: [],
      };
  }
}

export function fmt(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 0.1) return ms.toFixed(2);
  return ms.toFixed(3);
}

export function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

export function times(ratio: number): string {
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(1)}×`;
}

export function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${n} B`;
}

function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
