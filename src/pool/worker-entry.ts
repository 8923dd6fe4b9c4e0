/**
 * The program every pool worker runs (a worker thread or a child process). It receives batches
 * of tasks, runs them one at a time in arrival order, and answers in batches.
 *
 * Invariant the pool relies on: tasks start in the order they arrive and one at a time, and
 * results are sent in the same order. So the oldest unanswered task of a worker is the one it
 * is running; the others have not started (and can be handed to another worker if this one
 * dies).
 */
import { getHeapStatistics } from 'node:v8';
import {
  type MessagePort,
  parentPort,
  receiveMessageOnPort,
  workerData,
} from 'node:worker_threads';
import {
  deserializeError,
  FLAG_PARKED,
  FLAG_POSTED,
  FLAG_SYNC_REPLY,
  FN_MODULE,
  type FromWorker,
  PARK_FOR_MS,
  PARK_SLICE_MS,
  STATUS_CANCELLED,
  STATUS_ERROR,
  STATUS_OK,
  serializeError,
  type ToWorker,
  type WorkerConfig,
} from './protocol.ts';
import { reviveShared } from './shared.ts';
import { RUNTIME, type TaskContext, type WorkerRuntime } from './worker-runtime.ts';

type Fn = (...args: unknown[]) => unknown;

interface Entry extends TaskContext {
  fnId: number;
  args: unknown[];
}

const config: WorkerConfig =
  parentPort !== null ? (workerData as WorkerConfig) : JSON.parse(process.argv[2] ?? '{}');

const send: (message: FromWorker) => void =
  parentPort !== null
    ? (message) => parentPort!.postMessage(message)
    : (message) => {
        process.send!(message);
      };

const asError = (value: unknown) => Object.assign(new Error(String(value)), { value });

// ---- functions ------------------------------------------------------------------------------

const fns = new Map<number, Fn | Promise<Fn>>();

function define(defs: unknown[]): void {
  for (let i = 0; i < defs.length; i += 4) {
    const fnId = defs[i] as number;
    const kind = defs[i + 1] as number;
    const where = defs[i + 2] as string;
    const name = defs[i + 3] as string;
    if (kind === FN_MODULE) {
      const loading = loadExport(where, name).then((fn) => {
        fns.set(fnId, fn);
        return fn;
      });
      loading.catch(() => fns.delete(fnId));
      fns.set(fnId, loading);
    } else {
      try {
        fns.set(fnId, compile(where));
      } catch (error) {
        const failed = Promise.reject(error);
        failed.catch(() => {});
        fns.set(fnId, failed);
      }
    }
  }
}

async function loadExport(url: string, name: string): Promise<Fn> {
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

/** esbuild's keepNames helper, which tsx-compiled functions may call inside their bodies. */
const nameHelper = (target: unknown, value: string) =>
  Object.defineProperty(target, 'name', { value, configurable: true });

/** Compiles a toThread() function from its source, in a scope with nothing of the caller's. */
function compile(source: string): Fn {
  let fn: unknown;
  try {
    fn = new Function('__name', `"use strict"; return (${source});`)(nameHelper);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    // A method (`name(x) { … }`) is not an expression on its own; an object literal fixes that.
    const holder = new Function('__name', `"use strict"; return ({ ${source} });`)(nameHelper);
    fn = Object.values(holder as object)[0];
  }
  if (typeof fn !== 'function') throw new TypeError('toThread: the source is not a function');
  const compiled = fn as Fn;
  return (...args: unknown[]) => {
    try {
      const result = compiled(...args);
      if (isThenable(result)) return Promise.resolve(result).catch(explainScope);
      return result;
    } catch (error) {
      return explainScope(error);
    }
  };
}

function explainScope(error: unknown): never {
  const match =
    error instanceof ReferenceError ? /^(\S+) is not defined$/.exec(error.message) : null;
  if (match === null) throw error;
  const name = match[1];
  throw new ReferenceError(
    `toThread: the function uses "${name}", which it cannot see in the worker: a function run by toThread must be self-contained (no closure over outer variables or imports); pass "${name}" as an argument, or put the code in a module and use pool.run()`,
    { cause: error },
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

// ---- running tasks --------------------------------------------------------------------------

const queue: (Entry | undefined)[] = [];
let head = 0;
let draining = false;
let results: unknown[] = [];
let lastFlush = 0;

const runtime: WorkerRuntime = {
  kind: config.kind,
  pool: config.pool,
  current: null,
  callMain,
  callMainSync,
};
(globalThis as { [RUNTIME]?: WorkerRuntime })[RUNTIME] = runtime;

function flush(): void {
  if (results.length === 0) return;
  const batch = results;
  results = [];
  lastFlush = performance.now();
  const heap = config.reportHeap ? getHeapStatistics().used_heap_size : 0;
  try {
    send({ t: 'done', results: batch, heap });
  } catch {
    // Some result could not be cloned: replace exactly those with an error saying so.
    for (let i = 0; i < batch.length; i += 4) {
      try {
        structuredClone(batch[i + 2]);
      } catch (error) {
        batch[i + 1] = STATUS_ERROR;
        batch[i + 2] = serializeError(
          new TypeError(`the task's result could not be sent back: ${(error as Error).message}`),
        );
      }
    }
    send({ t: 'done', results: batch, heap });
  }
}

async function drain(): Promise<void> {
  draining = true;
  let ran = 0;
  for (;;) {
    // Between tasks, take what the pool sent meanwhile (one atomic load when it sent nothing).
    if (syncFlag !== null && Atomics.load(syncFlag, FLAG_POSTED) !== pulledAt) pullPending();
    if (head >= queue.length) break;
    const entry = queue[head]!;
    queue[head++] = undefined;
    if (entry.aborted) {
      results.push(entry.id, STATUS_CANCELLED, null, 0);
      continue;
    }
    let status: number;
    let value: unknown;
    const started = performance.now();
    // Current from here on, so an abort that arrives while its module loads still finds it.
    runtime.current = entry;
    try {
      let fn = fns.get(entry.fnId);
      if (fn === undefined) throw new Error(`internal: unknown function ${entry.fnId}`);
      if (typeof fn !== 'function') {
        flush();
        fn = await fn;
        if (entry.aborted) throw entry.reason;
      }
      value = fn(...reviveShared(entry.args));
      if (isThenable(value)) {
        flush();
        value = await value;
      }
      status = STATUS_OK;
    } catch (error) {
      status = entry.aborted ? STATUS_CANCELLED : STATUS_ERROR;
      value = serializeError(error);
    }
    runtime.current = null;
    const now = performance.now();
    results.push(entry.id, status, value, now - started);
    ran++;
    if (now - lastFlush > 1) flush();
  }
  queue.length = 0;
  head = 0;
  draining = false;
  flush();
  idleSince = performance.now();
  // One task at a time: someone is waiting on each answer, so park for the next. A batch: the
  // pool is streaming work, and its messages coalesce better through the event loop.
  streaming = ran > 1;
  if (!streaming) schedulePark();
}

function onRun(defs: unknown[] | null, tasks: unknown[]): void {
  if (defs !== null) define(defs);
  for (let i = 0; i < tasks.length; i += 3) {
    queue.push({
      id: tasks[i] as number,
      fnId: tasks[i + 1] as number,
      args: tasks[i + 2] as unknown[],
      controller: null,
      aborted: false,
      reason: undefined,
    });
  }
}

/** Starts running the queue, unless it is already running (it picks up what was added). */
function kick(): void {
  if (!draining && head < queue.length) void drain();
}

/** Threads: what FLAG_POSTED was when the task port was last emptied. */
let pulledAt = 0;

/**
 * Threads: takes every message already waiting on the task port, synchronously. So a batch the
 * pool sent while this worker was busy joins the queue at once, and the worker answers it with
 * the rest, in one message, instead of one round trip per message.
 */
function pullPending(): void {
  if (taskPort === undefined || syncFlag === null) return;
  // Read the count before the port: a message posted after this read changes the count.
  pulledAt = Atomics.load(syncFlag, FLAG_POSTED);
  for (let entry = receiveMessageOnPort(taskPort); entry !== undefined; ) {
    onMessage(entry.message as ToWorker);
    entry = receiveMessageOnPort(taskPort);
  }
}

/** A message from the pool, through the event loop. */
function receive(message: ToWorker): void {
  onMessage(message);
  pullPending();
  kick();
}

function onAbortTask(id: number, reason: unknown): void {
  const current = runtime.current as Entry | null;
  let entry: Entry | undefined = current?.id === id ? current : undefined;
  for (let i = head; entry === undefined && i < queue.length; i++) {
    if (queue[i]?.id === id) entry = queue[i];
  }
  if (entry === undefined || entry.aborted) return;
  entry.aborted = true;
  entry.reason = reason;
  entry.controller?.abort(reason);
}

// ---- calls into the main thread -------------------------------------------------------------

let callSeq = 0;
const calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();

function callMain(name: string, args: unknown[]): Promise<unknown> {
  const call = ++callSeq;
  return new Promise((resolve, reject) => {
    calls.set(call, { resolve, reject });
    try {
      send({ t: 'call', call, name, args, sync: false });
    } catch (error) {
      calls.delete(call);
      reject(error);
    }
  });
}

const syncFlag = config.syncFlag ? new Int32Array(config.syncFlag) : null;
const syncPort: MessagePort | undefined = config.syncPort;
const taskPort: MessagePort | undefined = config.taskPort;

function callMainSync(name: string, args: unknown[]): unknown {
  if (syncFlag === null || syncPort === undefined) {
    throw new Error(
      'callMainSync(): only ThreadPool workers can block on the main thread (a child process shares no memory with it); use await callMain()',
    );
  }
  const call = ++callSeq;
  Atomics.store(syncFlag, FLAG_SYNC_REPLY, 0);
  send({ t: 'call', call, name, args, sync: true });
  Atomics.wait(syncFlag, FLAG_SYNC_REPLY, 0);
  const reply = receiveMessageOnPort(syncPort)?.message as
    | { ok: boolean; value: unknown }
    | undefined;
  if (reply === undefined) throw new Error('callMainSync(): the main thread sent no reply');
  if (reply.ok) return reply.value;
  throw deserializeError(reply.value as never, asError);
}

// ---- parking (threads) ----------------------------------------------------------------------
//
// Waking a thread through its event loop (a MessagePort event) costs tens of microseconds more
// than waking it from Atomics.wait. So a thread with nothing to run parks: it waits on the
// FLAG_POSTED counter, which the pool bumps after every message it posts on the task port, and
// takes the messages with receiveMessageOnPort. Only while idle: a running task owns the event
// loop (its timers, its callMain replies, its taskSignal). And only in short slices, returning
// to the event loop between them, so that whatever a finished task left behind (a timer, a
// stream, an unawaited callMain) still runs, late by at most one slice; after PARK_FOR_MS
// without a task it stops parking, and the next message wakes it through its event loop.
// terminate() interrupts Atomics.wait, so stopping a parked worker is immediate.

let parkScheduled = false;
/** The last run of the queue had more than one task: the pool is streaming, do not park. */
let streaming = false;
let parking = false;
let idleSince = 0;

function schedulePark(): void {
  if (taskPort === undefined || parkScheduled || parking) return;
  parkScheduled = true;
  // From a clean stack (the check phase), never from inside a task's promise chain.
  setImmediate(park);
}

function park(): void {
  parkScheduled = false;
  if (draining || syncFlag === null || taskPort === undefined) return;
  parking = true;
  try {
    const sliceEnd = performance.now() + PARK_SLICE_MS;
    for (;;) {
      // pullPending reads the count before the port: a message posted after that read changes
      // the count, so the wait below returns at once instead of missing it.
      pullPending();
      kick();
      // A task is waiting on something (it is async): it needs the event loop now. Or tasks
      // came in a batch: the pool is streaming, and the event loop batches better.
      if (draining || streaming) return;
      const left = sliceEnd - performance.now();
      if (left <= 0) break;
      Atomics.store(syncFlag, FLAG_PARKED, 1);
      Atomics.wait(syncFlag, FLAG_POSTED, pulledAt, left);
      Atomics.store(syncFlag, FLAG_PARKED, 0);
    }
  } finally {
    parking = false;
  }
  if (performance.now() - idleSince < PARK_FOR_MS) schedulePark();
}

// ---- wiring ---------------------------------------------------------------------------------

function onMessage(message: ToWorker): void {
  switch (message.t) {
    case 'run':
      onRun(message.defs, message.tasks);
      break;
    case 'abort':
      onAbortTask(message.id, deserializeError(message.reason, asError));
      break;
    case 'reply': {
      const pending = calls.get(message.call);
      if (pending === undefined) break;
      calls.delete(message.call);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(deserializeError(message.value as never, asError));
      break;
    }
  }
}

if (parentPort !== null) {
  (taskPort ?? parentPort).on('message', receive);
} else {
  process.on('message', receive as (message: unknown) => void);
  // A child process reports what kills it before it goes, since the pool cannot see its stderr.
  process.on('uncaughtException', (error) => {
    try {
      process.send!({ t: 'fatal', error: serializeError(error) } satisfies FromWorker, () =>
        process.exit(1),
      );
    } catch {
      process.exit(1);
    }
  });
  // The pool closed the channel (or died): nothing more will come.
  process.on('disconnect', () => process.exit(0));
}
send({ t: 'ready' });
idleSince = performance.now();
schedulePark();
