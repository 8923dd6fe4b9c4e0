/**
 * How a pool talks to one worker: a thread (worker_threads) or a child process (fork with the
 * structured-clone serialization). The pool above it is the same for both.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  MessageChannel,
  type MessagePort,
  type ResourceLimits,
  type TransferListItem,
  Worker,
} from 'node:worker_threads';
import {
  FLAG_FIELDS,
  FLAG_PARKED,
  FLAG_POSTED,
  FLAG_SYNC_REPLY,
  type FromWorker,
  type ToWorker,
  type WorkerConfig,
} from './protocol.ts';

export interface TransportEvents {
  message(message: FromWorker): void;
  /** An uncaught error in the worker (threads; processes report through a `fatal` message). */
  error(error: unknown): void;
  exit(code: number | null, signal: NodeJS.Signals | null): void;
}

export interface TransportOptions {
  pool: string;
  reportHeap: boolean;
  resourceLimits: ResourceLimits | undefined;
  execArgv: string[] | undefined;
  env: NodeJS.ProcessEnv | undefined;
}

export interface Transport {
  /** threadId or pid. */
  readonly id: number;
  send(message: ToWorker, transfer?: TransferListItem[]): void;
  /** Asks the worker to stop: terminate() for a thread, SIGTERM for a process. */
  stop(): void;
  /** Stops it now: terminate() for a thread, SIGKILL for a process. */
  kill(): void;
  ref(): void;
  unref(): void;
  /** Threads: answers a blocked `callMainSync`. */
  replySync?(reply: { ok: boolean; value: unknown }): void;
}

/**
 * The worker entry sits next to this file: `worker-entry.ts` when we run from source (under
 * tsx, which workers and children inherit through execArgv), `worker-entry.js` once built.
 */
const entryUrl = new URL(
  import.meta.url.endsWith('.ts') ? './worker-entry.ts' : './worker-entry.js',
  import.meta.url,
);

/**
 * Under tsx, a worker thread must register tsx itself: on Node 20 (and 22 before 22.22.3, 24
 * before 24.11.1, 25.0) tsx's `--import` hook registers on the main thread only, so a worker
 * could not load `.ts` files — ours or the user's. We then bootstrap each thread with tsx's
 * documented API (`tsx/esm/api` register()) before loading the entry. Without tsx, nothing.
 */
function tsxPreload(): string[] {
  const argv = process.execArgv;
  let underTsx = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = arg === '--import' || arg === '--loader' ? argv[i + 1] : arg.split('=')[1];
    if (
      (arg.startsWith('--import') || arg.startsWith('--loader')) &&
      value !== undefined &&
      /(^|[/\\])tsx([/\\]|$)/.test(value)
    ) {
      underTsx = true;
    }
  }
  if (!underTsx || tsxRegistersInWorkers()) return [];
  const candidates = ['tsx/esm/api'];
  try {
    candidates.push(import.meta.resolve('tsx/esm/api'));
  } catch {
    // not resolvable from here; the bare name (resolved from the working directory) may be
  }
  return candidates;
}

function tsxRegistersInWorkers(): boolean {
  const [major = 0, minor = 0, patch = 0] = process.versions.node.split('.').map(Number);
  const atLeast = (a: number, b: number, c: number) =>
    major === a && (minor > b || (minor === b && patch >= c));
  return major >= 26 || atLeast(25, 1, 0) || atLeast(24, 11, 1) || atLeast(22, 22, 3);
}

let preload: string[] | undefined;

/** The thread bootstrap: CommonJS (eval), so it needs no file of its own and no loader. */
const bootstrap = `
const { workerData } = require('node:worker_threads');
(async () => {
  for (const candidate of workerData.preload) {
    try {
      (await import(candidate)).register();
      break;
    } catch {}
  }
  await import(workerData.entry);
})().catch((error) => process.nextTick(() => { throw error; }));
`;

export function threadTransport(options: TransportOptions, on: TransportEvents): Transport {
  const flag = new SharedArrayBuffer(FLAG_FIELDS * 4);
  const flagView = new Int32Array(flag);
  const { port1, port2 } = new MessageChannel();
  // Tasks, aborts and callMain replies go through a port of their own rather than the
  // Worker's, so that an idle worker parked in Atomics.wait can read them synchronously.
  const tasks = new MessageChannel();
  const config: WorkerConfig = {
    pool: options.pool,
    kind: 'thread',
    reportHeap: options.reportHeap,
    syncFlag: flag,
    syncPort: port2,
    taskPort: tasks.port2,
  };
  preload ??= tsxPreload();
  const worker = new Worker(bootstrap, {
    eval: true,
    workerData: { ...config, preload, entry: entryUrl.href },
    transferList: [port2, tasks.port2],
    resourceLimits: options.resourceLimits,
    execArgv: options.execArgv,
    env: options.env,
    name: options.pool,
  });
  worker.on('message', on.message);
  worker.on('error', on.error);
  worker.once('exit', (code) => {
    port1.close();
    tasks.port1.close();
    on.exit(code, null);
  });
  const id = worker.threadId;
  const taskPort = tasks.port1;
  return {
    id,
    send(message, transfer) {
      taskPort.postMessage(message, transfer);
      // After the post, so a worker that sees the new count finds the message on its port.
      // A worker that set FLAG_PARKED after this load still sees the new count before it
      // waits (it waits only while the count is the one it read), so no wake-up is lost.
      Atomics.add(flagView, FLAG_POSTED, 1);
      if (Atomics.load(flagView, FLAG_PARKED) !== 0) Atomics.notify(flagView, FLAG_POSTED);
    },
    stop() {
      void worker.terminate();
    },
    kill() {
      void worker.terminate();
    },
    ref() {
      worker.ref();
    },
    unref() {
      worker.unref();
    },
    replySync(reply) {
      postReply(port1, reply);
      Atomics.store(flagView, FLAG_SYNC_REPLY, 1);
      Atomics.notify(flagView, FLAG_SYNC_REPLY);
    },
  };
}

function postReply(port: MessagePort, reply: { ok: boolean; value: unknown }): void {
  port.postMessage(reply);
}

/** execArgv a child must not inherit: the test runner's and the inspector's. */
function inheritable(argv: string[]): string[] {
  return argv.filter(
    (arg) => !arg.startsWith('--test') && !arg.startsWith('--inspect') && arg !== '--watch',
  );
}

export function processTransport(options: TransportOptions, on: TransportEvents): Transport {
  const config: WorkerConfig = {
    pool: options.pool,
    kind: 'process',
    reportHeap: options.reportHeap,
  };
  const execArgv = inheritable(process.execArgv);
  const limits = options.resourceLimits;
  if (limits?.maxOldGenerationSizeMb) {
    execArgv.push(`--max-old-space-size=${limits.maxOldGenerationSizeMb}`);
  }
  if (limits?.maxYoungGenerationSizeMb) {
    execArgv.push(`--max-semi-space-size=${Math.max(1, limits.maxYoungGenerationSizeMb >> 1)}`);
  }
  if (limits?.stackSizeMb) execArgv.push(`--stack-size=${Math.round(limits.stackSizeMb * 1024)}`);
  if (options.execArgv) execArgv.push(...options.execArgv);
  const child: ChildProcess = fork(fileURLToPath(entryUrl), [JSON.stringify(config)], {
    serialization: 'advanced',
    execArgv,
    env: options.env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.on('message', on.message as (message: unknown) => void);
  // 'close' comes after the IPC channel has delivered everything the child sent.
  child.once('close', (code, signal) => on.exit(code, signal));
  // Sending to a child that just died fails asynchronously; its 'close' reports the death.
  child.on('error', () => {});
  return {
    id: child.pid ?? -1,
    send(message) {
      if (child.connected) child.send(message);
    },
    stop() {
      child.kill('SIGTERM');
    },
    kill() {
      child.kill('SIGKILL');
    },
    ref() {
      child.ref();
      child.channel?.ref();
    },
    unref() {
      child.unref();
      child.channel?.unref();
    },
  };
}
