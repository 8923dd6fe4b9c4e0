/**
 * The pool: one implementation behind ThreadPool and ProcessPool, which differ only in their
 * transport (see transport.ts).
 *
 * Lifecycle of a job: WAITING (for room in a full queue, `onFull: 'wait'`) → QUEUED (waiting
 * for a worker) → SENT (in a worker's in-flight list; the first of that list is the one
 * running) → settled. Aborts, timeouts, crashes and close all funnel into `#abort`, `#onExit`
 * and `#settle`, so every job settles exactly once.
 */
import diagnostics from 'node:diagnostics_channel';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResourceLimits, TransferListItem } from 'node:worker_threads';
import {
  type ComponentSink,
  type MetricsSink,
  onAbort,
  outcomeOf,
  TimeoutError,
} from '../cancel/index.ts';
import { checkDuration, durationError, signalError } from '../cancel/options.ts';
import { QueueFullError } from '../queue/index.ts';
import { Deque } from './deque.ts';
import { PoolClosedError, RemoteValueError, WorkerCrashedError } from './errors.ts';
import {
  deserializeError,
  FN_MODULE,
  FN_SOURCE,
  type FromWorker,
  type SerializedError,
  STATUS_OK,
  serializeError,
} from './protocol.ts';
import { breakMutexesHeldBy } from './shared.ts';
import type { Transport, TransportEvents, TransportOptions } from './transport.ts';

/** Published when a worker dies on its own: `{ pool, workerId, exitCode, signal, limit, error }`. */
export const crashChannel = diagnostics.channel('switchyard:pool:crash');
/** Published when a worker starts: `{ pool, workerId }`. */
export const spawnChannel = diagnostics.channel('switchyard:pool:spawn');
/**
 * Published when the pool stops a worker on purpose: `{ pool, workerId, reason }`, reason being
 * `'idle'`, `'recycle'` (maxMemoryMb), `'cancel'` (a task ignored its abort past the grace
 * period) or `'close'`.
 */
export const stopChannel = diagnostics.channel('switchyard:pool:stop');
/**
 * Published when a worker ignored termination for the whole grace period at close; the pool
 * gives up on it (unreferenced, so it cannot hold the process) and close() resolves anyway:
 * `{ pool, workerId }`.
 */
export const stuckChannel = diagnostics.channel('switchyard:pool:stuck');

export type MainHandler = (...args: never[]) => unknown;

export interface PoolOptions {
  /**
   * A metrics registry (observe's `Metrics`, or any `MetricsSink`): every task is recorded under
   * the pool's `name` (outcome, and time from `run()` to settle), with the in-flight and queued
   * counts and busy/idle workers. Default: none, and nothing is recorded.
   */
  metrics?: MetricsSink | undefined;
  /** For errors, stats and diagnostics. Default `'ThreadPool'` / `'ProcessPool'`. */
  name?: string;
  /** Workers kept even when idle. Default 0: an idle pool holds nothing. */
  minThreads?: number;
  /** Most workers at once. Default `os.availableParallelism()`. */
  maxThreads?: number;
  /** Workers above `minThreads` idle this long are stopped. Default 30,000 ms. */
  idleTimeoutMs?: number;
  /**
   * Most tasks waiting for a worker (running and pipelined tasks not counted). Default
   * `maxThreads × 256`; `Infinity` for none — every buffer in switchyard is bounded by default.
   */
  maxQueue?: number;
  /** When the queue is full: `'wait'` (default; `run` waits for room) or `'reject'` (QueueFullError). */
  onFull?: 'wait' | 'reject';
  /** Default `timeoutMs` of every task: the time allowed running. Default Infinity. */
  taskTimeoutMs?: number;
  /** Time a task may wait for a worker (including waiting for room). Default Infinity. */
  queueTimeoutMs?: number;
  /**
   * After a running task is aborted (its signal, its timeout, or the pool's force close), how
   * long its worker gets to stop it cooperatively before it is terminated and replaced.
   * Also the bound on each stage of stopping workers at close. Default 1000 ms.
   */
  cancelGraceMs?: number;
  /** Hard V8 limits per worker (threads: resourceLimits; processes: the matching V8 flags). */
  resourceLimits?: ResourceLimits;
  /** Soft limit: a worker whose heap passes it after a batch of tasks is replaced between tasks. */
  maxMemoryMb?: number;
  /** Functions that worker code can call with `callMain(name, …args)` / `callMainSync`. */
  mainHandlers?: Record<string, MainHandler>;
  /**
   * Most tasks sent ahead to one busy worker when its tasks are short (mean run time under
   * 1 ms): a worker still runs one task at a time, but never waits for the next one. Long tasks
   * are never sent ahead. Default 8; 1 turns it off.
   */
  pipelineDepth?: number;
  /** Extra Node flags for each worker (threads: Worker execArgv; processes: node flags). */
  execArgv?: string[];
  /** Environment of each worker. Default: the parent's (a copy for threads). */
  env?: NodeJS.ProcessEnv;
}

export interface RunOptions {
  /** Aborting it cancels the task: removed if queued, aborted (then terminated) if running. */
  signal?: AbortSignal | undefined;
  /** ArrayBuffers and ports to move rather than copy (threads; ignored by processes). */
  transfer?: readonly TransferListItem[] | undefined;
  /** Time allowed running. Default: the pool's `taskTimeoutMs`. */
  timeoutMs?: number | undefined;
  /** Time allowed waiting for a worker. Default: the pool's `queueTimeoutMs`. */
  queueTimeoutMs?: number | undefined;
}

export interface CloseOptions {
  /** Reject queued tasks and stop running ones now, instead of finishing them. */
  force?: boolean;
}

export interface PoolStats {
  name: string;
  /** Workers alive (including starting and stopping ones). */
  workers: number;
  /** Workers running a task. */
  busy: number;
  /** Workers with nothing to do. */
  idle: number;
  /** Tasks waiting for a worker (including those waiting for room in a full queue). */
  queued: number;
  /** Tasks sent to workers and not settled (the running ones and those sent ahead). */
  inFlight: number;
  /** Tasks that resolved. */
  completed: number;
  /** Tasks that rejected with their own error or a WorkerCrashedError. */
  failed: number;
  /** Tasks cancelled by their signal, a timeout or a force close. */
  cancelled: number;
  /** Workers that died on their own. */
  crashed: number;
  /** Mean run time (in the worker) of every finished task, ms. */
  meanRunMs: number;
  /** 95th percentile run time of the last 1024 finished tasks, ms. */
  p95RunMs: number;
}

/** A module handle: each exported function, as an async function taking a trailing RunOptions. */
export type ModuleHandle<M> = {
  readonly [K in keyof M as M[K] extends (...args: never[]) => unknown ? K : never]: M[K] extends (
    ...args: infer A
  ) => infer R
    ? (...args: [...A, options?: RunOptions]) => Promise<Awaited<R>>
    : never;
};

const WAITING = 0;
const QUEUED = 1;
const SENT = 2;
const SETTLED = 3;

/** Mean run time under which tasks are sent ahead to busy workers. */
const PIPELINE_BELOW_MS = 1;
const RUN_SAMPLES = 1024;

class Job {
  state = WAITING;
  slot: Slot | null = null;
  aborted = false;
  reason: unknown = undefined;
  unsubscribe: (() => void) | null = null;
  queueTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  runTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  graceTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  readonly createdAt = performance.now();

  constructor(
    readonly id: number,
    readonly fnId: number,
    readonly args: unknown[],
    readonly transfer: readonly TransferListItem[] | undefined,
    readonly timeoutMs: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (reason: unknown) => void,
  ) {}
}

class Slot {
  transport!: Transport;
  readonly inflight = new Deque<Job>();
  readonly knownFns = new Set<number>();
  outbox: unknown[] | null = null;
  outDefs: unknown[] | null = null;
  outTransfer: TransferListItem[] | null = null;
  ready = false;
  /** No new tasks: it is stopping once its in-flight ones are done (maxMemoryMb). */
  retiring = false;
  /** We asked it to stop; its exit is not a crash. */
  stopping = false;
  stopReason = '';
  /** It has exited (or we gave up waiting for it). */
  gone = false;
  referenced = true;
  idleSince = 0;
  fatal: unknown = undefined;
  killTimer: ReturnType<typeof setTimeout> | undefined = undefined;
}

const runOptionKeys = new Set(['signal', 'transfer', 'timeoutMs', 'queueTimeoutMs']);

/** Whether the last argument of a module-handle call is its RunOptions. */
function isRunOptions(value: unknown): value is RunOptions {
  if (typeof value !== 'object' || value === null) return false;
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  const keys = Object.keys(value);
  if (keys.length === 0) return false;
  for (const key of keys) if (!runOptionKeys.has(key)) return false;
  const { signal, transfer } = value as RunOptions;
  return (
    (signal === undefined || signal instanceof AbortSignal) &&
    (transfer === undefined || Array.isArray(transfer))
  );
}

function moduleHref(where: string, url: unknown): string {
  if (url instanceof URL) return url.href;
  if (typeof url !== 'string') {
    throw new TypeError(`${where}: moduleUrl must be a URL or a string, got ${typeof url}`);
  }
  if (isAbsolute(url)) return pathToFileURL(url).href;
  if (/^[a-z][a-z0-9+.-]+:/i.test(url)) return url;
  throw new TypeError(
    `${where}: moduleUrl must be a URL or an absolute path, got "${url}" (resolve it first: new URL('./worker.js', import.meta.url))`,
  );
}

function count(where: string, name: string, value: unknown, min: number, infinite = false) {
  if (value === Number.POSITIVE_INFINITY && infinite) return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(
      `${where}: ${name} must be an integer >= ${min}${infinite ? ' or Infinity' : ''}, got ${String(value)}`,
    );
  }
  return value;
}

const asRemoteValue = (value: unknown) => new RemoteValueError(value);

export type TransportFactory = (options: TransportOptions, on: TransportEvents) => Transport;

/** The shared implementation of ThreadPool and ProcessPool. */
export class Pool implements AsyncDisposable {
  readonly name: string;
  readonly #metrics: ComponentSink | undefined;
  readonly #createTransport: TransportFactory;
  readonly #min: number;
  readonly #max: number;
  readonly #idleTimeoutMs: number;
  readonly #maxQueue: number;
  readonly #onFull: 'wait' | 'reject';
  readonly #taskTimeoutMs: number;
  readonly #queueTimeoutMs: number;
  readonly #graceMs: number;
  readonly #resourceLimits: ResourceLimits | undefined;
  readonly #maxHeapBytes: number;
  readonly #handlers: Record<string, MainHandler>;
  readonly #pipelineDepth: number;
  readonly #execArgv: string[] | undefined;
  readonly #env: NodeJS.ProcessEnv | undefined;

  readonly #slots: Slot[] = [];
  /** Slots not retiring or stopping: the ones that count toward maxThreads. */
  #active = 0;
  readonly #queue = new Deque<Job>();
  /** Jobs in #queue that are still QUEUED (aborted ones are skipped lazily). */
  #queued = 0;
  readonly #waiting = new Deque<Job>();
  #waitingLive = 0;
  #inFlight = 0;
  #nextJobId = 0;
  readonly #fnIds = new Map<string, number>();
  readonly #fnDefs: unknown[][] = [];
  #dirty: Slot[] = [];
  #flushScheduled = false;
  #idleTimer: ReturnType<typeof setInterval> | undefined = undefined;
  #startupFailures = 0;

  #closed = false;
  #forced = false;
  #closeReason: PoolClosedError | undefined = undefined;
  #closing: Promise<void> | undefined = undefined;
  #drained: (() => void) | undefined = undefined;
  #allStopped: (() => void) | undefined = undefined;

  #completed = 0;
  #failed = 0;
  #cancelled = 0;
  #crashed = 0;
  #runTotalMs = 0;
  #runCount = 0;
  readonly #samples = new Float64Array(RUN_SAMPLES);
  #avgRunMs = Number.POSITIVE_INFINITY;

  constructor(kind: string, createTransport: TransportFactory, options: PoolOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`${kind}: options must be an object`);
    }
    const where = options.name === undefined ? kind : `${kind} "${options.name}"`;
    if (options.name !== undefined && typeof options.name !== 'string') {
      throw new TypeError(`${kind}: name must be a string, got ${typeof options.name}`);
    }
    this.name = options.name ?? kind;
    this.#metrics = options.metrics?.component(this.name);
    this.#createTransport = createTransport;
    this.#max = count(where, 'maxThreads', options.maxThreads ?? availableParallelism(), 1);
    this.#min = count(where, 'minThreads', options.minThreads ?? 0, 0);
    if (this.#min > this.#max) {
      throw new RangeError(
        `${where}: minThreads (${this.#min}) must not exceed maxThreads (${this.#max})`,
      );
    }
    this.#idleTimeoutMs = checkDuration(where, 'idleTimeoutMs', options.idleTimeoutMs ?? 30_000, {
      allowInfinity: true,
    });
    this.#maxQueue = count(where, 'maxQueue', options.maxQueue ?? this.#max * 256, 0, true);
    const onFull = options.onFull ?? 'wait';
    if (onFull !== 'wait' && onFull !== 'reject') {
      throw new TypeError(`${where}: onFull must be 'wait' or 'reject', got ${String(onFull)}`);
    }
    this.#onFull = onFull;
    this.#taskTimeoutMs = checkDuration(
      where,
      'taskTimeoutMs',
      options.taskTimeoutMs ?? Number.POSITIVE_INFINITY,
      { allowInfinity: true },
    );
    this.#queueTimeoutMs = checkDuration(
      where,
      'queueTimeoutMs',
      options.queueTimeoutMs ?? Number.POSITIVE_INFINITY,
      { allowInfinity: true },
    );
    this.#graceMs = checkDuration(where, 'cancelGraceMs', options.cancelGraceMs ?? 1000);
    if (options.resourceLimits !== undefined && typeof options.resourceLimits !== 'object') {
      throw new TypeError(`${where}: resourceLimits must be an object`);
    }
    this.#resourceLimits = options.resourceLimits;
    if (options.maxMemoryMb !== undefined) {
      const mb = options.maxMemoryMb;
      if (typeof mb !== 'number' || !(mb > 0) || !Number.isFinite(mb)) {
        throw new RangeError(`${where}: maxMemoryMb must be a positive number, got ${String(mb)}`);
      }
    }
    this.#maxHeapBytes = (options.maxMemoryMb ?? 0) * 1024 * 1024;
    const handlers = options.mainHandlers ?? {};
    if (typeof handlers !== 'object' || handlers === null) {
      throw new TypeError(`${where}: mainHandlers must be an object of functions`);
    }
    for (const [key, fn] of Object.entries(handlers)) {
      if (typeof fn !== 'function') {
        throw new TypeError(`${where}: mainHandlers.${key} must be a function, got ${typeof fn}`);
      }
    }
    this.#handlers = handlers;
    this.#pipelineDepth = count(where, 'pipelineDepth', options.pipelineDepth ?? 8, 1);
    if (options.execArgv !== undefined && !Array.isArray(options.execArgv)) {
      throw new TypeError(`${where}: execArgv must be an array of strings`);
    }
    this.#execArgv = options.execArgv;
    this.#env = options.env;
    for (let i = 0; i < this.#min; i++) this.#spawn();
  }

  // ---- public API ---------------------------------------------------------------------------

  /**
   * Runs `exportName` of the module at `moduleUrl` (a URL or an absolute path) in a worker with
   * `args` (structured-cloned; `transfer` moves buffers instead), and resolves with its
   * (awaited) result. Never throws synchronously: every problem is a rejection.
   */
  run<R = unknown>(
    moduleUrl: string | URL,
    exportName: string,
    args: readonly unknown[] = [],
    options: RunOptions = {},
  ): Promise<R> {
    let fnId: number;
    try {
      const key = typeof moduleUrl === 'string' ? `${moduleUrl}\0${exportName}` : undefined;
      const known = key === undefined ? undefined : this.#fnIds.get(key);
      if (known !== undefined) {
        fnId = known;
      } else {
        if (typeof exportName !== 'string' || exportName === '') {
          throw new TypeError(`${this.name}.run: exportName must be a non-empty string`);
        }
        const href = moduleHref(`${this.name}.run`, moduleUrl);
        fnId = this.#fnIdFor(key ?? `${href}\0${exportName}`, [FN_MODULE, href, exportName]);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#submit(fnId, args, options) as Promise<R>;
  }

  /**
   * A typed handle on a worker module: every export becomes an async function running in the
   * pool, with one extra, optional, trailing argument: RunOptions. The trailing argument is
   * taken as options when it is a plain object with only RunOptions keys.
   */
  module<M>(moduleUrl: string | URL): ModuleHandle<M> {
    const href = moduleHref(`${this.name}.module`, moduleUrl);
    const cache = new Map<string, (...args: unknown[]) => Promise<unknown>>();
    return new Proxy(Object.create(null) as object, {
      get: (_target, key) => {
        if (typeof key !== 'string' || key === 'then') return undefined;
        let fn = cache.get(key);
        if (fn === undefined) {
          fn = (...args: unknown[]) => {
            const options = args.length > 0 && isRunOptions(args.at(-1)) ? args.pop() : undefined;
            return this.run(href, key, args, options as RunOptions | undefined);
          };
          cache.set(key, fn);
        }
        return fn;
      },
    }) as ModuleHandle<M>;
  }

  /**
   * Runs a self-contained function in a worker: its source is sent, not its closure. A function
   * that uses a name from its outer scope fails with a ReferenceError naming it.
   */
  runFunction<A extends unknown[], R>(
    fn: (...args: A) => R,
    args: A,
    options: RunOptions = {},
  ): Promise<Awaited<R>> {
    let fnId: number;
    try {
      if (typeof fn !== 'function') {
        throw new TypeError(`${this.name}.runFunction: fn must be a function, got ${typeof fn}`);
      }
      const source = Function.prototype.toString.call(fn);
      if (source.endsWith('{ [native code] }')) {
        throw new TypeError(
          `${this.name}.runFunction: ${fn.name || 'fn'} is a native or bound function; only functions with JavaScript source can run in a worker`,
        );
      }
      fnId = this.#fnIdFor(`\u0001${source}`, [FN_SOURCE, source, '']);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#submit(fnId, args, options) as Promise<Awaited<R>>;
  }

  /**
   * Stops the pool. By default it finishes every task already submitted (queued ones included),
   * then stops the workers; with `force` it rejects queued tasks and aborts running ones with a
   * PoolClosedError, terminating their workers at once. Either way it resolves within a bounded
   * time once the tasks are done: a worker that ignores termination is killed, then abandoned
   * (see `switchyard:pool:stuck`). Calling it again returns the same promise (`force` upgrades).
   */
  close(options: CloseOptions = {}): Promise<void> {
    const force = options.force === true;
    this.#closed = true;
    this.#closeReason ??= new PoolClosedError(`${this.name}: closed`);
    if (force && !this.#forced) this.#forceAll();
    if (this.#closing === undefined) {
      this.#closing = this.#shutdown();
    }
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  stats(): PoolStats {
    let busy = 0;
    let workers = 0;
    for (const slot of this.#slots) {
      if (slot.gone) continue;
      workers++;
      if (slot.inflight.size > 0) busy++;
    }
    const samples = Math.min(this.#runCount, RUN_SAMPLES);
    let p95 = 0;
    if (samples > 0) {
      const sorted = this.#samples.slice(0, samples).sort();
      p95 = sorted[Math.min(samples - 1, Math.ceil(samples * 0.95) - 1)]!;
    }
    return {
      name: this.name,
      workers,
      busy,
      idle: workers - busy,
      queued: this.#queued + this.#waitingLive,
      inFlight: this.#inFlight,
      completed: this.#completed,
      failed: this.#failed,
      cancelled: this.#cancelled,
      crashed: this.#crashed,
      meanRunMs: this.#runCount === 0 ? 0 : this.#runTotalMs / this.#runCount,
      p95RunMs: p95,
    };
  }

  // ---- submitting ---------------------------------------------------------------------------

  #fnIdFor(key: string, def: unknown[]): number {
    let fnId = this.#fnIds.get(key);
    if (fnId === undefined) {
      fnId = this.#fnDefs.length;
      this.#fnDefs.push(def);
      this.#fnIds.set(key, fnId);
    }
    return fnId;
  }

  #submit(fnId: number, args: readonly unknown[], options: RunOptions): Promise<unknown> {
    if (typeof options !== 'object' || options === null) {
      return Promise.reject(new TypeError(`${this.name}.run: options must be an object`));
    }
    const { signal, transfer } = options;
    const timeoutMs = options.timeoutMs ?? this.#taskTimeoutMs;
    const queueTimeoutMs = options.queueTimeoutMs ?? this.#queueTimeoutMs;
    const where = `${this.name}.run`;
    const invalid =
      signalError(where, signal) ??
      durationError(where, 'timeoutMs', timeoutMs, { allowInfinity: true }) ??
      durationError(where, 'queueTimeoutMs', queueTimeoutMs, { allowInfinity: true }) ??
      (Array.isArray(args) ? undefined : new TypeError(`${where}: args must be an array`)) ??
      (transfer === undefined || Array.isArray(transfer)
        ? undefined
        : new TypeError(`${where}: transfer must be an array`));
    if (invalid) return Promise.reject(invalid);
    if (this.#closed) {
      return Promise.reject(new PoolClosedError(`${this.name}: closed; run() refused`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);

    let job!: Job;
    const promise = new Promise<unknown>((resolve, reject) => {
      job = new Job(
        ++this.#nextJobId,
        fnId,
        args as unknown[],
        transfer,
        timeoutMs,
        resolve,
        reject,
      );
    });
    if (signal) job.unsubscribe = onAbort(signal, (reason) => this.#abort(job, reason));
    if (queueTimeoutMs !== Number.POSITIVE_INFINITY) {
      job.queueTimer = setTimeout(() => {
        job.queueTimer = undefined;
        this.#abort(
          job,
          new TimeoutError(
            queueTimeoutMs,
            `${this.name}: task waited longer than queueTimeoutMs (${queueTimeoutMs} ms) for a worker`,
          ),
        );
      }, queueTimeoutMs);
    }

    if (this.#queued === 0 && this.#waitingLive === 0) {
      const slot = this.#pickSlot();
      if (slot !== undefined) {
        this.#dispatch(slot, job);
        return promise;
      }
    }
    if (this.#queued < this.#maxQueue) {
      job.state = QUEUED;
      this.#queue.push(job);
      this.#queued++;
    } else if (this.#onFull === 'reject') {
      this.#settle(
        job,
        false,
        new QueueFullError(
          `${this.name}: queue full (${this.#queued}/${this.#maxQueue} queued, ${this.#active}/${this.#max} workers busy)`,
        ),
      );
    } else {
      job.state = WAITING;
      this.#waiting.push(job);
      this.#waitingLive++;
    }
    return promise;
  }

  /** The worker that should take the next task, spawning one if allowed; undefined if none. */
  #pickSlot(): Slot | undefined {
    const depth = this.#avgRunMs < PIPELINE_BELOW_MS ? this.#pipelineDepth : 1;
    let best: Slot | undefined;
    let bestLoad = depth;
    for (const slot of this.#slots) {
      if (slot.retiring || slot.stopping) continue;
      const load = slot.inflight.size;
      if (load === 0) return slot;
      if (load < bestLoad) {
        best = slot;
        bestLoad = load;
      }
    }
    if (this.#active < this.#max) return this.#spawn();
    return best;
  }

  #dispatch(slot: Slot, job: Job): void {
    if (job.queueTimer !== undefined) {
      clearTimeout(job.queueTimer);
      job.queueTimer = undefined;
    }
    job.state = SENT;
    job.slot = slot;
    this.#inFlight++;
    slot.inflight.push(job);
    if (!slot.referenced) {
      slot.referenced = true;
      slot.transport.ref();
    }
    if (slot.outbox === null) {
      slot.outbox = [];
      this.#dirty.push(slot);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        queueMicrotask(this.#flush);
      }
    }
    if (!slot.knownFns.has(job.fnId)) {
      slot.knownFns.add(job.fnId);
      slot.outDefs ??= [];
      slot.outDefs.push(job.fnId, ...this.#fnDefs[job.fnId]!);
    }
    slot.outbox.push(job.id, job.fnId, job.args);
    if (job.transfer !== undefined && job.transfer.length > 0) {
      slot.outTransfer ??= [];
      slot.outTransfer.push(...job.transfer);
    }
    if (slot.inflight.size === 1) this.#started(job);
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const slot of dirty) this.#flushSlot(slot);
  };

  #flushSlot(slot: Slot): void {
    const tasks = slot.outbox;
    if (tasks === null) return;
    const defs = slot.outDefs;
    const transfer = slot.outTransfer;
    slot.outbox = null;
    slot.outDefs = null;
    slot.outTransfer = null;
    if (slot.gone) return;
    try {
      slot.transport.send({ t: 'run', defs, tasks }, transfer ?? undefined);
    } catch (error) {
      // Some argument could not be cloned (or transferred): fail exactly those tasks, send the rest.
      this.#sendOneByOne(slot, defs, tasks, transfer, error);
    }
  }

  #sendOneByOne(
    slot: Slot,
    defs: unknown[] | null,
    tasks: unknown[],
    transfer: TransferListItem[] | null,
    batchError: unknown,
  ): void {
    let pendingDefs = defs;
    for (let i = 0; i < tasks.length; i += 3) {
      const id = tasks[i] as number;
      const job = this.#findInflight(slot, id);
      if (job === undefined) continue;
      try {
        slot.transport.send(
          { t: 'run', defs: pendingDefs, tasks: [id, tasks[i + 1], tasks[i + 2]] },
          transfer === null ? undefined : (job.transfer as TransferListItem[] | undefined),
        );
        pendingDefs = null;
      } catch (error) {
        // Never reached the worker: take it out of the in-flight list and fail it.
        this.#removeInflight(slot, job);
        this.#settle(job, false, error instanceof Error ? error : batchError);
      }
    }
    if (pendingDefs !== null) slot.transport.send({ t: 'run', defs: pendingDefs, tasks: [] });
  }

  #findInflight(slot: Slot, id: number): Job | undefined {
    for (let i = 0; i < slot.inflight.size; i++) {
      const job = slot.inflight.at(i)!;
      if (job.id === id) return job;
    }
    return undefined;
  }

  #removeInflight(slot: Slot, job: Job): void {
    const wasHead = slot.inflight.peek() === job;
    const kept = slot.inflight.clear().filter((other) => other !== job);
    for (const other of kept) slot.inflight.push(other);
    this.#inFlight--;
    if (wasHead && kept.length > 0) this.#started(kept[0]!);
    if (kept.length === 0) this.#becameIdle(slot);
  }

  /** `job` is now the one its worker runs: its running deadline (and any pending abort) apply. */
  #started(job: Job): void {
    if (job.aborted) {
      this.#startGrace(job);
      return;
    }
    if (job.timeoutMs !== Number.POSITIVE_INFINITY) {
      const ms = job.timeoutMs;
      job.runTimer = setTimeout(() => {
        job.runTimer = undefined;
        this.#abort(
          job,
          new TimeoutError(ms, `${this.name}: task ran longer than timeoutMs (${ms} ms)`),
        );
      }, ms);
    }
  }

  // ---- cancelling ---------------------------------------------------------------------------

  #abort(job: Job, reason: unknown): void {
    if (job.aborted || job.state === SETTLED) return;
    job.aborted = true;
    job.reason = reason;
    switch (job.state) {
      case WAITING:
        this.#waitingLive--;
        this.#settle(job, false, reason);
        return;
      case QUEUED:
        this.#queued--;
        this.#settle(job, false, reason);
        this.#pump();
        return;
    }
    // SENT: tell the worker (after anything still unsent to it, so it knows the task).
    const slot = job.slot!;
    this.#flushSlot(slot);
    try {
      slot.transport.send({ t: 'abort', id: job.id, reason: serializeError(reason) });
    } catch {
      // The worker is gone; its exit settles the job.
    }
    if (slot.inflight.peek() === job) {
      // Running: it settles when the worker answers, or when the grace period ends.
      this.#startGrace(job);
    } else {
      // Sent ahead but not started: the caller need not wait. The worker skips it.
      this.#settle(job, false, reason);
    }
  }

  #startGrace(job: Job): void {
    if (job.graceTimer !== undefined || job.slot === null) return;
    const slot = job.slot;
    job.graceTimer = setTimeout(() => {
      job.graceTimer = undefined;
      if (slot.gone || slot.inflight.peek() !== job) return;
      this.#stopSlot(slot, 'cancel', true);
    }, this.#graceMs);
  }

  // ---- results ------------------------------------------------------------------------------

  #onMessage(slot: Slot, message: FromWorker): void {
    switch (message.t) {
      case 'done':
        this.#onResults(slot, message.results, message.heap);
        break;
      case 'call':
        this.#onCall(slot, message.call, message.name, message.args, message.sync);
        break;
      case 'ready':
        slot.ready = true;
        this.#startupFailures = 0;
        break;
      case 'fatal':
        slot.fatal = deserializeError(message.error, asRemoteValue);
        break;
    }
  }

  #onResults(slot: Slot, results: unknown[], heap: number): void {
    if (slot.gone) return;
    for (let i = 0; i < results.length; i += 4) {
      const job = slot.inflight.shift();
      if (job === undefined) break;
      this.#inFlight--;
      const runMs = results[i + 3] as number;
      this.#recordRun(runMs);
      if (job.state !== SETTLED) {
        if (job.aborted) {
          this.#settle(job, false, job.reason);
        } else if (results[i + 1] === STATUS_OK) {
          this.#settle(job, true, results[i + 2]);
        } else {
          this.#settle(
            job,
            false,
            deserializeError(results[i + 2] as SerializedError, asRemoteValue),
          );
        }
      }
      const next = slot.inflight.peek();
      if (next !== undefined) this.#started(next);
    }
    if (this.#maxHeapBytes > 0 && heap > this.#maxHeapBytes && !slot.retiring && !slot.stopping) {
      slot.retiring = true;
      this.#active--;
    }
    if (slot.inflight.size === 0) this.#becameIdle(slot);
    this.#pump();
  }

  #recordRun(ms: number): void {
    this.#samples[this.#runCount % RUN_SAMPLES] = ms;
    this.#runCount++;
    this.#runTotalMs += ms;
    this.#avgRunMs =
      this.#avgRunMs === Number.POSITIVE_INFINITY ? ms : this.#avgRunMs * 0.9 + ms * 0.1;
  }

  #becameIdle(slot: Slot): void {
    if (slot.retiring) {
      this.#stopSlot(slot, 'recycle', false);
      return;
    }
    slot.idleSince = performance.now();
    if (slot.referenced) {
      slot.referenced = false;
      slot.transport.unref();
    }
    this.#maybeDrained();
  }

  /** Settles a job exactly once, clearing everything it holds. */
  #settle(job: Job, ok: boolean, value: unknown): void {
    if (job.state === SETTLED) return;
    job.state = SETTLED;
    if (job.queueTimer !== undefined) clearTimeout(job.queueTimer);
    if (job.runTimer !== undefined) clearTimeout(job.runTimer);
    if (job.graceTimer !== undefined) clearTimeout(job.graceTimer);
    job.queueTimer = job.runTimer = job.graceTimer = undefined;
    job.unsubscribe?.();
    job.unsubscribe = null;
    if (ok) {
      this.#completed++;
      job.resolve(value);
    } else {
      if (job.aborted) this.#cancelled++;
      else this.#failed++;
      job.reject(value);
    }
    if (this.#metrics !== undefined) this.#record(job, ok, value);
  }

  #record(job: Job, ok: boolean, value: unknown): void {
    const metrics = this.#metrics!;
    const outcome = ok ? 'ok' : job.aborted ? 'cancelled' : outcomeOf(value);
    metrics.recordTask(outcome, (performance.now() - job.createdAt) / 1000);
    let workers = 0;
    let busy = 0;
    for (const slot of this.#slots) {
      if (slot.gone) continue;
      workers++;
      if (slot.inflight.size > 0) busy++;
    }
    metrics.setInflight(this.#inFlight);
    metrics.setQueueDepth(this.#queued + this.#waitingLive);
    metrics.setPoolThreads('busy', busy);
    metrics.setPoolThreads('idle', workers - busy);
  }

  /** Moves work forward: room waiters into the queue, queued jobs onto workers. */
  #pump(): void {
    for (;;) {
      let moved = false;
      while (this.#queued > 0) {
        const slot = this.#pickSlot();
        if (slot === undefined) break;
        const job = this.#queue.shift()!;
        if (job.state !== QUEUED) continue;
        this.#queued--;
        this.#dispatch(slot, job);
        moved = true;
      }
      while (this.#waitingLive > 0 && this.#queued < this.#maxQueue) {
        const job = this.#waiting.shift()!;
        if (job.state !== WAITING) continue;
        this.#waitingLive--;
        job.state = QUEUED;
        this.#queue.push(job);
        this.#queued++;
        moved = true;
      }
      if (!moved || this.#queued === 0) break;
    }
    if (this.#queued === 0 && this.#queue.size > 0) this.#queue.clear(); // only dead entries
    this.#maybeDrained();
  }

  // ---- calls from workers -------------------------------------------------------------------

  #onCall(slot: Slot, call: number, name: string, args: unknown[], sync: boolean): void {
    const reply = (ok: boolean, value: unknown) => {
      if (slot.gone) return;
      try {
        if (sync) slot.transport.replySync!({ ok, value });
        else slot.transport.send({ t: 'reply', call, ok, value });
      } catch (error) {
        // The value could not be cloned: send that instead.
        const fallback = serializeError(
          new TypeError(`mainHandlers.${name}: its result could not be sent to the worker`, {
            cause: error,
          }),
        );
        if (sync) slot.transport.replySync!({ ok: false, value: fallback });
        else slot.transport.send({ t: 'reply', call, ok: false, value: fallback });
      }
    };
    const handler = Object.hasOwn(this.#handlers, name) ? this.#handlers[name] : undefined;
    if (handler === undefined) {
      const known = Object.keys(this.#handlers);
      reply(
        false,
        serializeError(
          new TypeError(
            `${this.name}: no main handler named "${name}" (mainHandlers: ${known.join(', ') || 'none'})`,
          ),
        ),
      );
      return;
    }
    new Promise((resolve) => resolve((handler as (...a: unknown[]) => unknown)(...args))).then(
      (value) => reply(true, value),
      (error: unknown) => reply(false, serializeError(error)),
    );
  }

  // ---- workers ------------------------------------------------------------------------------

  #spawn(): Slot {
    const slot = new Slot();
    const pool = this;
    slot.transport = this.#createTransport(
      {
        pool: this.name,
        reportHeap: this.#maxHeapBytes > 0,
        resourceLimits: this.#resourceLimits,
        execArgv: this.#execArgv,
        env: this.#env,
      },
      {
        message(message) {
          pool.#onMessage(slot, message);
        },
        error(error) {
          slot.fatal ??= error;
        },
        exit(code, signal) {
          pool.#onExit(slot, code, signal);
        },
      },
    );
    this.#slots.push(slot);
    this.#active++;
    slot.idleSince = performance.now();
    // A new worker is referenced until it first goes idle (it is being given work).
    if (spawnChannel.hasSubscribers) {
      spawnChannel.publish({ pool: this.name, workerId: slot.transport.id });
    }
    this.#ensureIdleSweep();
    return slot;
  }

  #ensureIdleSweep(): void {
    if (this.#idleTimer !== undefined || this.#idleTimeoutMs === Number.POSITIVE_INFINITY) return;
    const every = Math.max(10, Math.min(this.#idleTimeoutMs / 2, 5_000));
    this.#idleTimer = setInterval(() => this.#sweepIdle(), every);
    this.#idleTimer.unref();
  }

  #sweepIdle(): void {
    const now = performance.now();
    let keep = this.#active;
    for (const slot of this.#slots) {
      if (keep <= this.#min) break;
      if (slot.stopping || slot.retiring || slot.inflight.size > 0) continue;
      if (now - slot.idleSince >= this.#idleTimeoutMs) {
        this.#stopSlot(slot, 'idle', false);
        keep--;
      }
    }
    if (this.#slots.length === 0 && this.#idleTimer !== undefined) {
      clearInterval(this.#idleTimer);
      this.#idleTimer = undefined;
    }
  }

  /**
   * Stops a worker on purpose. `hard`: a task is stuck (or the pool is force-closing): kill now.
   * Otherwise ask politely, then kill after the grace period, then give up after another.
   */
  #stopSlot(slot: Slot, reason: string, hard: boolean): void {
    if (slot.gone) return;
    if (!slot.stopping) {
      slot.stopping = true;
      slot.stopReason = reason;
      if (!slot.retiring) this.#active--;
      if (stopChannel.hasSubscribers) {
        stopChannel.publish({ pool: this.name, workerId: slot.transport.id, reason });
      }
    }
    if (hard) slot.transport.kill();
    else slot.transport.stop();
    if (slot.killTimer !== undefined) clearTimeout(slot.killTimer);
    slot.killTimer = setTimeout(() => {
      slot.killTimer = undefined;
      if (slot.gone) return;
      slot.transport.kill();
      slot.killTimer = setTimeout(() => {
        slot.killTimer = undefined;
        if (slot.gone) return;
        // It ignores even that (a thread blocked in native code): stop waiting for it.
        slot.transport.unref();
        if (stuckChannel.hasSubscribers) {
          stuckChannel.publish({ pool: this.name, workerId: slot.transport.id });
        }
        this.#onExit(slot, null, null);
      }, this.#graceMs);
    }, this.#graceMs);
  }

  #onExit(slot: Slot, exitCode: number | null, signal: NodeJS.Signals | null): void {
    if (slot.gone) return;
    slot.gone = true;
    if (slot.killTimer !== undefined) clearTimeout(slot.killTimer);
    slot.killTimer = undefined;
    const index = this.#slots.indexOf(slot);
    if (index !== -1) this.#slots.splice(index, 1);
    if (!slot.stopping && !slot.retiring) this.#active--;
    slot.outbox = slot.outDefs = slot.outTransfer = null;

    const crashed = !slot.stopping;
    let crash: WorkerCrashedError | undefined;
    if (crashed) {
      this.#crashed++;
      if (!slot.ready) this.#startupFailures++;
      const fatal = slot.fatal;
      const code = (fatal as { code?: unknown } | undefined)?.code;
      const limit =
        code === 'ERR_WORKER_OUT_OF_MEMORY' ||
        (this.#resourceLimits?.maxOldGenerationSizeMb !== undefined &&
          (signal === 'SIGABRT' || exitCode === 134))
          ? 'heap'
          : null;
      crash = new WorkerCrashedError({
        pool: this.name,
        workerId: slot.transport.id,
        exitCode,
        signal,
        limit,
        ...(fatal === undefined || limit !== null ? {} : { cause: fatal }),
      });
      if (slot.transport.replySync === undefined) {
        // Processes share no memory with us; only threads can hold a SharedMutex.
      } else {
        breakMutexesHeldBy(slot.transport.id);
      }
      if (crashChannel.hasSubscribers) {
        crashChannel.publish({
          pool: this.name,
          workerId: slot.transport.id,
          exitCode,
          signal,
          limit,
          error: fatal,
        });
      }
    } else if (slot.transport.replySync !== undefined) {
      breakMutexesHeldBy(slot.transport.id);
    }

    // The first in-flight job was running: it gets the verdict. The rest never started.
    const jobs = slot.inflight.clear();
    this.#inFlight -= jobs.length;
    const head = jobs.shift();
    if (head !== undefined) {
      if (head.aborted) this.#settle(head, false, head.reason);
      else if (crash !== undefined) this.#settle(head, false, crash);
      else this.#settle(head, false, this.#closeReason ?? new PoolClosedError());
    }
    for (let i = jobs.length - 1; i >= 0; i--) {
      const job = jobs[i]!;
      if (job.state === SETTLED) continue;
      if (job.runTimer !== undefined) clearTimeout(job.runTimer);
      if (job.graceTimer !== undefined) clearTimeout(job.graceTimer);
      job.runTimer = job.graceTimer = undefined;
      if (this.#forced) {
        this.#settle(job, false, job.aborted ? job.reason : this.#closeReason);
        continue;
      }
      job.state = QUEUED;
      job.slot = null;
      this.#queue.unshift(job);
      this.#queued++;
    }
    // Keep the pool at its size; but a worker that cannot even start is not restarted in a loop.
    if (!this.#closed && this.#startupFailures === 0) {
      while (this.#active < this.#min) this.#spawn();
    }
    this.#pump();
    if (this.#slots.length === 0) {
      if (this.#idleTimer !== undefined) clearInterval(this.#idleTimer);
      this.#idleTimer = undefined;
      this.#allStopped?.();
    }
  }

  // ---- closing ------------------------------------------------------------------------------

  #forceAll(): void {
    this.#forced = true;
    const reason = new PoolClosedError(`${this.name}: closed with force; task cancelled`);
    this.#closeReason = reason;
    for (const job of this.#waiting.clear()) {
      if (job.state !== WAITING) continue;
      job.aborted = true;
      job.reason = reason;
      this.#settle(job, false, reason);
    }
    this.#waitingLive = 0;
    for (const job of this.#queue.clear()) {
      if (job.state !== QUEUED) continue;
      job.aborted = true;
      job.reason = reason;
      this.#settle(job, false, reason);
    }
    this.#queued = 0;
    for (const slot of [...this.#slots]) {
      for (let i = 0; i < slot.inflight.size; i++) {
        const job = slot.inflight.at(i)!;
        if (job.aborted) continue;
        job.aborted = true;
        job.reason = reason;
      }
      if (slot.inflight.size > 0) this.#stopSlot(slot, 'close', true);
    }
  }

  #maybeDrained(): void {
    if (this.#drained === undefined) return;
    if (this.#queued > 0 || this.#waitingLive > 0 || this.#inFlight > 0) return;
    const drained = this.#drained;
    this.#drained = undefined;
    drained();
  }

  async #shutdown(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#drained = resolve;
      this.#maybeDrained();
    });
    const stopped = new Promise<void>((resolve) => {
      this.#allStopped = resolve;
    });
    if (this.#slots.length > 0) {
      for (const slot of [...this.#slots]) this.#stopSlot(slot, 'close', false);
      await stopped;
    }
    if (this.#idleTimer !== undefined) clearInterval(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}
