/**
 * `advise()`: measure a function in a fresh child process and recommend a lane.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serialize } from 'node:v8';
import { durationError, signalError } from '../cancel/options.ts';
import { AdviseCallError, AdviseLoadError } from './errors.ts';
import { measureParallelism } from './parallelism.ts';
import type { ChildMessage, CloneCost, CpuSource, RawSample, StartMessage } from './protocol.ts';
import type {
  Advice,
  AdviseOptions,
  CallFigures,
  Failure,
  MemoryFigures,
  Stat,
  TransferFigures,
} from './types.ts';
import { decide } from './verdict.ts';

const harnessUrl = new URL(
  import.meta.url.endsWith('.ts') ? './harness.ts' : './harness.js',
  import.meta.url,
);

/** Growth per call above which retained memory counts as a leak (with steady growth). */
export const LEAK_BYTES_PER_CALL = 1024 * 1024;
const STDERR_TAIL = 4096;

/**
 * Runs `exportName` from `moduleUrl` with `args` (structured-cloned into the child) `warmup +
 * runs` times, one call at a time, in a fresh child process, measures each call and returns the
 * figures with a verdict. Rejects with `AdviseLoadError` when the function cannot be loaded,
 * `AdviseCallError` when it throws, `TypeError`/`RangeError` naming a bad option. A crash, a
 * hang (a call longer than `timeoutMs`) or running out of memory is not a rejection: it is the
 * finding, reported with the verdict `process`.
 */
export async function advise(
  moduleUrl: URL | string,
  exportName: string,
  args: readonly unknown[] = [],
  options: AdviseOptions = {},
): Promise<Advice> {
  const {
    runs = 10,
    warmup = 2,
    timeoutMs = 10_000,
    loadTimeoutMs = 30_000,
    maxMemoryMb = 1024,
    concurrency = 64,
    cores = availableParallelism(),
    signal,
  } = options;
  const invalid =
    signalError('advise', signal) ??
    countError('runs', runs, 1) ??
    countError('warmup', warmup, 0) ??
    countError('concurrency', concurrency, 1) ??
    countError('cores', cores, 1) ??
    countError('maxMemoryMb', maxMemoryMb, 16) ??
    durationError('advise', 'timeoutMs', timeoutMs) ??
    durationError('advise', 'loadTimeoutMs', loadTimeoutMs) ??
    (typeof exportName !== 'string' || exportName === ''
      ? new TypeError(`advise: exportName must be a non-empty string, got ${String(exportName)}`)
      : undefined) ??
    (Array.isArray(args) ? undefined : new TypeError('advise: args must be an array'));
  if (invalid) throw invalid;
  signal?.throwIfAborted();
  const url = toUrl(moduleUrl);
  try {
    serialize(args);
  } catch (error) {
    throw new TypeError(
      `advise: args must be structured-cloneable (they are copied into the measuring process): ${(error as Error).message}`,
    );
  }

  const raw = await measure(
    { type: 'start', moduleUrl: url.href, exportName, args: [...args], runs, warmup },
    { timeoutMs, loadTimeoutMs, maxMemoryMb, signal },
  );
  const measured = raw.samples.filter((s) => !s.warmup);
  const calls = measured.length > 0 ? summarise(measured, raw.childCpuMs / measured.length) : null;
  // After the child is gone, so that the burst does not compete with the measured calls.
  const parallelism =
    options.cores === undefined && calls !== null && raw.failure === null
      ? (await measureParallelism(cores, { signal })).parallelism
      : cores;
  const memory = memoryFigures(raw.samples, raw.baseline, warmup, maxMemoryMb);
  const transfer = raw.clone ? transferFigures(raw.clone.args, raw.clone.result) : null;
  const { verdict, estimate } = decide({
    calls,
    transfer,
    memory,
    failure: raw.failure,
    timeoutMs,
    cores,
    parallelism,
    concurrency,
    load: loadavg()[0],
  });
  return {
    schema: 'switchyard.advise',
    version: 1,
    target: { module: url.href, export: exportName },
    machine: { cores, node: process.version, platform: process.platform, arch: process.arch },
    runs,
    warmup,
    outcome:
      raw.failure === null
        ? 'ok'
        : raw.failure.kind === 'hang'
          ? 'hung'
          : raw.failure.kind === 'out-of-memory'
            ? 'out-of-memory'
            : 'crashed',
    cpuSource: raw.cpuSource,
    calls,
    transfer,
    memory,
    failure: raw.failure,
    verdict,
    estimate,
    samples: raw.samples.map((s) => ({ ...s })),
  };
}

function countError(name: string, value: unknown, min: number): RangeError | TypeError | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    return new TypeError(`advise: ${name} must be an integer, got ${String(value)}`);
  }
  if (value < min) return new RangeError(`advise: ${name} must be >= ${min}, got ${value}`);
  return undefined;
}

function toUrl(moduleUrl: URL | string): URL {
  if (moduleUrl instanceof URL) return moduleUrl;
  if (typeof moduleUrl !== 'string') {
    throw new TypeError(`advise: moduleUrl must be a URL or a string, got ${typeof moduleUrl}`);
  }
  if (isAbsolute(moduleUrl)) return pathToFileURL(moduleUrl);
  if (/^[a-z][a-z0-9+.-]*:/i.test(moduleUrl)) return new URL(moduleUrl);
  throw new TypeError(
    `advise: moduleUrl must be a URL or an absolute path, got the relative "${moduleUrl}" (relative to what?)`,
  );
}

interface RawResult {
  cpuSource: CpuSource | null;
  baseline: number;
  samples: RawSample[];
  clone: { args: CloneCost; result: CloneCost } | null;
  /** CPU of waited-for child processes over the measured calls, ms; 0 where unknown. */
  childCpuMs: number;
  failure: Failure | null;
}

interface MeasureOptions {
  timeoutMs: number;
  loadTimeoutMs: number;
  maxMemoryMb: number;
  signal: AbortSignal | undefined;
}

function measure(start: StartMessage, options: MeasureOptions): Promise<RawResult> {
  return new Promise<RawResult>((resolve, reject) => {
    const result: RawResult = {
      cpuSource: null,
      baseline: -1,
      samples: [],
      clone: null,
      childCpuMs: 0,
      failure: null,
    };
    let child: ChildProcess;
    try {
      child = fork(fileURLToPath(harnessUrl), [], {
        serialization: 'advanced',
        execArgv: childExecArgv(start.moduleUrl, options.maxMemoryMb),
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
    } catch (error) {
      reject(error);
      return;
    }
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL);
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled: { ok: true } | { ok: false; error: unknown } | undefined;
    let cpuAtArm: number | null = null;
    const pid = child.pid ?? -1;
    const call = () => result.samples.length;
    const arm = (ms: number, onFire: () => void) => {
      clearTimeout(timer);
      cpuAtArm = threadCpuMsOf(pid);
      timer = setTimeout(onFire, ms);
    };
    const finish = (outcome: NonNullable<typeof settled>) => {
      settled ??= outcome;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const onAbort = () => finish({ ok: false, error: options.signal!.reason });
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('message', (message: ChildMessage) => {
      switch (message.type) {
        case 'loaded':
          result.cpuSource = message.cpuSource;
          result.baseline = message.baselineRetainedBytes;
          arm(options.timeoutMs, onHang);
          break;
        case 'sample':
          result.samples.push(message.sample);
          arm(options.timeoutMs, onHang);
          break;
        case 'done':
          result.clone = { args: message.args, result: message.result };
          result.childCpuMs = Math.max(0, message.childCpuMs);
          finish({ ok: true });
          break;
        case 'load-error': {
          const cause = message.error as { message?: string } | undefined;
          finish({
            ok: false,
            error: new AdviseLoadError(
              `advise: cannot load ${start.exportName} from ${start.moduleUrl}: ${cause?.message ?? String(cause)}`,
              { cause },
            ),
          });
          break;
        }
        case 'threw': {
          const cause = message.error as { message?: string } | undefined;
          finish({
            ok: false,
            error: new AdviseCallError(
              `advise: ${start.exportName} threw on call ${message.index + 1}: ${cause?.message ?? String(cause)}`,
              message.index,
              { cause },
            ),
          });
          break;
        }
      }
    });
    const onHang = () => {
      const now = threadCpuMsOf(pid);
      result.failure = {
        kind: 'hang',
        call: call(),
        exitCode: null,
        signal: null,
        cpuMs: now !== null && cpuAtArm !== null ? now - cpuAtArm : null,
        stderr: '',
      };
      finish({ ok: true });
    };
    arm(options.loadTimeoutMs, () => {
      finish({
        ok: false,
        error: new AdviseLoadError(
          `advise: loading ${start.moduleUrl} took longer than ${options.loadTimeoutMs} ms (loadTimeoutMs)`,
        ),
      });
    });
    child.on('error', () => {}); // a send to a dead child; 'close' reports the death
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (settled === undefined) {
        const oom = /heap out of memory|Reached heap limit|Allocation failed/i.test(stderr);
        if (result.cpuSource === null) {
          settled = {
            ok: false,
            error: new AdviseLoadError(
              `advise: the measuring process exited (${signal ?? `code ${code}`}) while loading ${start.moduleUrl}: ${lastLine(stderr)}`,
            ),
          };
        } else {
          result.failure = {
            kind: oom ? 'out-of-memory' : 'crash',
            call: call(),
            exitCode: code,
            signal,
            cpuMs: null,
            stderr: stderr.trim(),
          };
          settled = { ok: true };
        }
      } else if (result.failure !== null && result.failure.kind === 'hang') {
        result.failure.stderr = stderr.trim();
      }
      if (settled.ok) resolve(result);
      else reject(settled.error);
    });
    child.send(start, (error) => {
      if (error) finish({ ok: false, error });
    });
  });
}

function lastLine(text: string): string {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '');
  const error = lines.find((l) => /Error|error:/.test(l));
  return error ?? lines.at(-1) ?? 'no output';
}

/** The main thread's CPU time of a process, ms (Linux); null where it cannot be read. */
function threadCpuMsOf(pid: number): number | null {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'latin1').split(' ')[0]) / 1e6;
  } catch {
    return null;
  }
}

/** Flags the child must not inherit: the test runner's, the inspector's, our own. */
function childExecArgv(moduleUrl: string, maxMemoryMb: number): string[] {
  const argv = process.execArgv.filter(
    (arg) =>
      !arg.startsWith('--test') &&
      !arg.startsWith('--inspect') &&
      arg !== '--watch' &&
      !arg.startsWith('--max-old-space-size') &&
      arg !== '--expose-gc',
  );
  const needsTsx = harnessUrl.href.endsWith('.ts') || /\.[cm]?tsx?$/.test(moduleUrl);
  if (needsTsx && !underTsx(argv)) {
    try {
      argv.push('--import', import.meta.resolve('tsx'));
    } catch {
      // tsx is not installed: a .ts module then fails to load, and the load error says why
    }
  }
  argv.push('--expose-gc', `--max-old-space-size=${maxMemoryMb}`);
  return argv;
}

function underTsx(argv: string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--import') && !arg.startsWith('--loader')) continue;
    const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[i + 1];
    if (value !== undefined && /(^|[/\\])tsx([/\\]|$)/.test(value)) return true;
  }
  return false;
}

export function stat(values: number[]): Stat {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  const median = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return {
    median,
    mean: sorted.reduce((a, b) => a + b, 0) / n,
    p95: at(0.95),
    min: sorted[0]!,
    max: sorted[n - 1]!,
  };
}

function summarise(samples: RawSample[], childCpuMs: number): CallFigures {
  return {
    wallMs: stat(samples.map((s) => s.wallMs)),
    cpuMs: stat(samples.map((s) => s.cpuMs)),
    blockedMs: stat(samples.map((s) => s.blockedMs)),
    runQueueMs: stat(samples.map((s) => s.runQueueMs)),
    elu: stat(samples.map((s) => s.elu)),
    childCpuMs,
  };
}

/**
 * A leak: after warm-up, memory retained after a full GC grows by more than
 * `LEAK_BYTES_PER_CALL` per call (least-squares slope) and grows at most steps.
 */
function memoryFigures(
  samples: RawSample[],
  baseline: number,
  warmup: number,
  limitMb: number,
): MemoryFigures {
  const points = samples.map((s) => s.retainedBytes).filter((b) => b >= 0);
  const last = points.at(-1);
  const retainedBytes = last !== undefined && baseline >= 0 ? last - baseline : null;
  // Skip warm-up calls (lazy initialisation) when enough calls remain to see a trend.
  const series = points.length - warmup >= 3 ? points.slice(warmup) : points;
  if (baseline >= 0 && series.length < 3) series.unshift(baseline);
  if (series.length < 3) {
    return { retainedBytes, growthBytesPerCall: null, leak: false, limitMb };
  }
  const n = series.length;
  const meanX = (n - 1) / 2;
  const meanY = series.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (i - meanX) * (series[i]! - meanY);
    den += (i - meanX) ** 2;
  }
  const slope = num / den;
  let rising = 0;
  for (let i = 1; i < n; i++) if (series[i]! > series[i - 1]!) rising++;
  const leak = slope > LEAK_BYTES_PER_CALL && rising >= 0.75 * (n - 1);
  return { retainedBytes, growthBytesPerCall: slope, leak, limitMb };
}

function transferFigures(args: CloneCost, result: CloneCost): TransferFigures {
  return {
    argsBytes: args.bytes,
    resultBytes: result.bytes,
    cloneMs: args.ms + result.ms,
    cloneable: result.bytes >= 0,
    error: result.error ?? null,
  };
}
