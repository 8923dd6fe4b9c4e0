import { findSourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { checkDuration } from '../cancel/options.ts';
import { blockedChannel } from './channels.ts';
import { WATCHDOG_SOURCE } from './watchdog-source.ts';

/** One frame of the blocked main thread's JavaScript stack, source-mapped when possible. */
export interface StackFrame {
  /** '' for anonymous functions. */
  functionName: string;
  /** The script's URL (`file:///…` or `node:…`); '' when V8 did not say. */
  url: string;
  /** The file path for `file:` URLs, else the URL. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export interface BlockReport {
  /**
   * How long the loop was blocked, milliseconds: how late the heartbeat due during the block
   * ran. A lower bound of the stall, short of it by at most the heartbeat interval.
   */
  durationMs: number;
  /** The threshold that was crossed. */
  thresholdMs: number;
  /** How far into the block the watchdog noticed it, milliseconds. */
  detectedAfterMs: number;
  /** The main thread's JavaScript stack during the block, innermost first; [] if not captured. */
  stack: StackFrame[];
  /** The stack as `    at fn (file:line:column)` lines, like `Error#stack`. */
  stackText: string;
  /** Why the stack is missing, when it is. */
  stackError?: string;
}

export interface DetectBlockingOptions {
  /** Report when the loop has not run for this long, milliseconds (default 100, at least 10). */
  thresholdMs?: number | undefined;
  /**
   * Called on the main thread, once the loop runs again, for every block. A throw from it is
   * rethrown as an uncaught exception (like an EventTarget listener's), not swallowed.
   */
  onBlock?: ((report: BlockReport) => void) | undefined;
  /**
   * Capture the blocked stack through the inspector (default true). Without it the watchdog
   * only times blocks and never touches the debugger.
   */
  captureStack?: boolean | undefined;
}

const HEARTBEAT_NAME = 'switchyardWatchdogHeartbeat';

interface WorkerFrame {
  functionName: string;
  url: string;
  line: number;
  column: number;
}

type WorkerMessage =
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | {
      type: 'block';
      durationMs: number;
      detectedAfterMs: number;
      frames: WorkerFrame[];
      error: string | undefined;
    };

function toPath(url: string): string {
  if (!url.startsWith('file:')) return url;
  try {
    return fileURLToPath(url);
  } catch {
    return url;
  }
}

/** Maps a generated position back to the source (tsx, `--enable-source-maps`, bundlers). */
function mapFrame(frame: WorkerFrame): StackFrame {
  const { functionName, url, line, column } = frame;
  let out: StackFrame = { functionName, url, file: toPath(url), line, column };
  if (url === '') return out;
  try {
    const map = findSourceMap(url) ?? findSourceMap(toPath(url));
    const entry = map?.findEntry(line - 1, column - 1) as
      | { originalSource?: string; originalLine?: number; originalColumn?: number }
      | undefined;
    if (entry && typeof entry.originalLine === 'number' && entry.originalSource) {
      out = {
        functionName,
        url: entry.originalSource,
        file: toPath(entry.originalSource),
        line: entry.originalLine + 1,
        column: (entry.originalColumn ?? 0) + 1,
      };
    }
  } catch {
    // No source map support for this script: keep the generated position.
  }
  return out;
}

function stackText(frames: StackFrame[]): string {
  return frames
    .map((f) => `    at ${f.functionName || '<anonymous>'} (${f.file}:${f.line}:${f.column})`)
    .join('\n');
}

/**
 * Watches the main thread from a watchdog worker: when the event loop has not run for
 * `thresholdMs`, the worker pauses the main thread through the inspector, reads its JavaScript
 * stack, resumes it, and — once the loop runs again — the report reaches `onBlock` and the
 * `switchyard:observe:blocked` channel.
 *
 * Create it on the main thread. The heartbeat timer and (once started) the worker are unref'd: the detector
 * never keeps the process alive. `stop()` (or `using`) ends the worker.
 */
export class BlockDetector implements Disposable {
  readonly thresholdMs: number;
  /** The heartbeat period, milliseconds (half the threshold, at most 1 s). */
  readonly intervalMs: number;
  /** Resolves once the watchdog is watching; rejects if it could not start. */
  readonly ready: Promise<void>;
  #blocks = 0;
  #worker: Worker | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #error: Error | undefined;

  constructor(options: DetectBlockingOptions = {}) {
    const { thresholdMs = 100, onBlock, captureStack = true } = options;
    checkDuration('detectBlocking', 'thresholdMs', thresholdMs);
    if (thresholdMs < 10) {
      throw new RangeError(`detectBlocking: thresholdMs must be >= 10, got ${thresholdMs}`);
    }
    if (onBlock !== undefined && typeof onBlock !== 'function') {
      throw new TypeError(`detectBlocking: onBlock must be a function, got ${typeof onBlock}`);
    }
    this.thresholdMs = thresholdMs;
    this.intervalMs = Math.min(Math.max(5, thresholdMs / 2), 1000);

    const beat = new BigInt64Array(new SharedArrayBuffer(8));
    const heartbeat = {
      [HEARTBEAT_NAME]: () => {
        Atomics.store(beat, 0, process.hrtime.bigint());
      },
    }[HEARTBEAT_NAME]!;
    heartbeat();
    this.#heartbeat = setInterval(heartbeat, this.intervalMs);
    this.#heartbeat.unref();

    const worker = new Worker(WATCHDOG_SOURCE, {
      eval: true,
      execArgv: [],

      workerData: {
        beat: beat.buffer,
        intervalMs: this.intervalMs,
        thresholdMs,
        captureStack: captureStack !== false,
        heartbeatName: HEARTBEAT_NAME,
      },
    });
    this.#worker = worker;

    let settleReady!: (error?: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      settleReady = (error) => (error ? reject(error) : resolve());
    });
    // Nobody has to await `ready`; a start-up failure is also in `error`.
    this.ready.catch(() => {});

    const fail = (error: Error) => {
      this.#error ??= error;
      settleReady(error);
      this.stop();
    };
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') {
        // Held until the watchdog runs, so that `await detector.ready` works in a script with
        // nothing else to do; unref'd from then on. (Unref after adding listeners: a 'message'
        // listener refs the worker's port again.)
        worker.unref();
        settleReady();
      } else if (message.type === 'failed') {
        fail(new Error(`detectBlocking: the watchdog could not start: ${message.error}`));
      } else if (message.type === 'block') {
        this.#blocks++;
        const stack = message.frames.map(mapFrame);
        const report: BlockReport = {
          durationMs: message.durationMs,
          thresholdMs,
          detectedAfterMs: message.detectedAfterMs,
          stack,
          stackText: stackText(stack),
        };
        if (message.error !== undefined) report.stackError = message.error;
        if (blockedChannel.hasSubscribers) blockedChannel.publish(report);
        if (onBlock !== undefined) {
          try {
            onBlock(report);
          } catch (error) {
            queueMicrotask(() => {
              throw error;
            });
          }
        }
      }
    });
    worker.on('error', (error) => fail(error));
    worker.on('exit', (code) => {
      if (this.#worker === worker) {
        fail(new Error(`detectBlocking: the watchdog exited unexpectedly (code ${code})`));
      }
    });
  }

  /** Blocks reported so far. */
  get blocks(): number {
    return this.#blocks;
  }

  /** Why the watchdog stopped on its own (it could not start, or crashed), if it did. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Whether the watchdog is running. */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  /** Stops the heartbeat and terminates the watchdog. Idempotent. */
  stop(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker !== undefined) {
      worker.postMessage('stop');
      worker.terminate().catch(() => {});
    }
  }

  close(): void {
    this.stop();
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}

/** Starts a `BlockDetector`. See the class for what it does and costs. */
export function detectBlocking(options?: DetectBlockingOptions): BlockDetector {
  return new BlockDetector(options);
}
