import { randomBytes } from 'node:crypto';
import { CancelledError } from '../cancel/errors.ts';
import type { MetricsSink } from '../cancel/metrics-sink.ts';
import { onAbort } from '../cancel/on-abort.ts';
import { durationError, signalError } from '../cancel/options.ts';
import type { Policy } from '../cancel/policy.ts';
import { QueueShutDownError } from '../queue/errors.ts';
import { Queue } from '../queue/queue.ts';
import { TaskGroup } from '../task/task-group.ts';
import { PipelineError } from './errors.ts';
import { type Journal, sharesTransaction } from './journal.ts';
import { errorClass, errorMessage, StageStats } from './stage-stats.ts';
import { Turnstile } from './turnstile.ts';
import type {
  DeadLetter,
  ItemKey,
  PipelineReport,
  Sink,
  SinkFunction,
  SinkRecord,
  StageChannel,
  StageContext,
} from './types.ts';

/** How many dead letters a report carries; the journal keeps every one. */
export const MAX_REPORTED_DEAD_LETTERS = 1000;

/** A policy keyed by an input (resilience's `keyed()`): `execute(input, fn, { signal })`. */
export interface KeyedPolicyLike {
  execute<T>(
    input: never,
    fn: (signal: AbortSignal) => T | PromiseLike<T>,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<unknown>;
}

/** @internal A `.map` stage as the builder recorded it. */
export interface StageSpec {
  name: string;
  fn: (item: unknown, ctx: unknown) => unknown;
  concurrency: number;
  buffer: number;
  policy: Policy | KeyedPolicyLike | undefined;
  policyKey: ((item: unknown) => unknown) | undefined;
  ordered: boolean;
  lane: 'loop' | 'pool';
}

/** @internal The `.to` sink as the builder recorded it. */
export interface SinkSpec {
  name: string;
  sink: Sink<unknown> | SinkFunction<unknown>;
  batchSize: number;
  batchWaitMs: number;
  policy: Policy | undefined;
}

/** @internal */
export interface PipelineSpec {
  name: string;
  journal: Journal | undefined;
  metrics: MetricsSink | undefined;
  source: Iterable<unknown> | AsyncIterable<unknown>;
  key: ((item: unknown, position: number) => ItemKey) | undefined;
  stages: readonly StageSpec[];
  sink: SinkSpec;
}

export interface PipelineRunOptions {
  /**
   * Aborting it stops the run gracefully: the source is no longer read, the items already read
   * drain through the stages for up to `drainTimeoutMs`, then the stages are aborted.
   */
  signal?: AbortSignal | undefined;
  /** How long a graceful stop may take before the stages' signals are aborted. Default 30,000. */
  drainTimeoutMs?: number | undefined;
  /**
   * Handle SIGINT and SIGTERM during the run: the first drains (like `signal`), the second
   * aborts the stages at once. The listeners exist only while `run()` runs. Default false.
   */
  handleSignals?: boolean | undefined;
}

/** An item on its way through the stages. */
interface Envelope {
  readonly key: ItemKey;
  /** `String(key)` when there is a journal. */
  readonly journalKey: string;
  value: unknown;
}

type Channel = StageChannel<Envelope>;

/** Runs a pipeline once. See `Pipeline.run`. */
export async function runPipeline(
  spec: PipelineSpec,
  options: PipelineRunOptions = {},
): Promise<PipelineReport> {
  const { signal, drainTimeoutMs = 30_000, handleSignals = false } = options ?? {};
  const optionError =
    signalError('pipeline.run', signal) ??
    durationError('pipeline.run', 'drainTimeoutMs', drainTimeoutMs, { allowInfinity: true });
  if (optionError) throw optionError;

  const { name, journal, metrics, stages, sink } = spec;
  // 96 random bits, 16 characters: unique per run, and short, since every journal row holds it.
  const runId = randomBytes(12).toString('base64url');
  const started = performance.now();
  const stats = stages.map((stage) => new StageStats(stage.name, metrics));
  const sinkStats = new StageStats(sink.name, metrics);
  const deadLetters: DeadLetter[] = [];
  const totals = { read: 0, ok: 0, failed: 0, skipped: 0 };
  /** Items read and not yet done or failed. */
  let live = 0;
  let interrupted = false;

  // Channel i feeds stage i; the last one feeds the sink.
  const channels: Channel[] = stages.map((stage) => new Queue<Envelope>({ maxsize: stage.buffer }));
  channels.push(new Queue<Envelope>({ maxsize: sink.batchSize }));
  const turnstiles = stages.map((stage) => (stage.ordered ? new Turnstile() : undefined));

  const group = new TaskGroup({
    name: `pipeline:${name}`,
    cancelGraceMs: Number.POSITIVE_INFINITY,
  });
  const stageSignal = group.signal;

  // Stopping: `stopReading` is the graceful stop; cancelling the group is the hard one.
  const stopReading = new AbortController();
  let drainTimer: ReturnType<typeof setTimeout> | undefined;
  const stopNow = (reason: unknown) => {
    interrupted = true;
    if (!stopReading.signal.aborted) stopReading.abort(reason);
    group.cancel(reason);
  };
  const drain = (reason: unknown) => {
    if (stopReading.signal.aborted) return;
    interrupted = true;
    // The reader stops before its next pull (a put waiting for room still completes: that
    // item was read); the first channel is then shut down and the stages drain it.
    stopReading.abort(reason);
    if (drainTimeoutMs === 0) {
      stopNow(reason);
    } else if (drainTimeoutMs !== Number.POSITIVE_INFINITY) {
      drainTimer = setTimeout(
        () =>
          stopNow(
            new CancelledError(
              `pipeline "${name}": items still in flight after the ${drainTimeoutMs} ms drain timeout; stopping`,
              { cause: reason },
            ),
          ),
        drainTimeoutMs,
      );
    }
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stopReading.signal.aborted) {
      drain(new CancelledError(`pipeline "${name}": ${sig} received; draining`));
    } else {
      stopNow(new CancelledError(`pipeline "${name}": second ${sig} received; stopping now`));
    }
  };
  // A hard stop (or a broken runtime) empties every channel: the items dropped stay pending.
  const unsubscribeGroup = onAbort(stageSignal, (reason) => {
    for (const channel of channels) channel.shutdown({ immediate: true });
    for (const turnstile of turnstiles) turnstile?.break(reason);
  });
  let unsubscribeCaller: (() => void) | undefined;
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  const deadLetter = (envelope: Envelope, stage: string, error: unknown) => {
    const letter: DeadLetter = {
      key: envelope.key,
      stage,
      errorClass: errorClass(error),
      message: errorMessage(error),
    };
    totals.failed++;
    live--;
    if (deadLetters.length < MAX_REPORTED_DEAD_LETTERS) deadLetters.push(letter);
    journal?.fail(envelope.journalKey, letter);
  };

  const makeReport = (): PipelineReport => {
    const durationMs = performance.now() - started;
    return {
      name,
      runId,
      stages: [...stats, sinkStats].map((s) => s.report(durationMs)),
      totals: {
        read: totals.read,
        ok: totals.ok,
        failed: totals.failed,
        pending: live,
        skipped: totals.skipped,
        durationMs,
        interrupted,
      },
      deadLetters,
    };
  };

  let failure: unknown;
  let begun = false;
  try {
    const begin = journal === undefined ? undefined : await journal.begin(name, runId);
    begun = true;
    if (signal !== undefined) {
      if (signal.aborted) drain(signal.reason);
      else unsubscribeCaller = onAbort(signal, drain);
    }

    group.spawn(
      () =>
        readSource(spec, channels[0]!, stopReading.signal, begin?.hasFinished === true, {
          read: (envelope) => {
            totals.read++;
            live++;
            if (journal !== undefined) journal.lease(envelope.journalKey);
          },
          skip: () => {
            totals.read++;
            totals.skipped++;
          },
          badKey: (envelope, error) => {
            totals.read++;
            live++;
            deadLetter(envelope, 'source', error);
          },
        }),
      { name: `${name}:source` },
    );

    stages.forEach((stage, i) => {
      const workers = { left: stage.concurrency };
      for (let w = 0; w < stage.concurrency; w++) {
        group.spawn(
          () =>
            runStageWorker(stage, stats[i]!, channels[i]!, channels[i + 1]!, turnstiles[i], {
              signal: stageSignal,
              workers,
              deadLetter,
            }),
          { name: `${name}:${stage.name}#${w}` },
        );
      }
    });

    const target = sink.sink;
    const shared = sharesTransaction(journal, target);
    const write = toWrite(target);
    group.spawn(
      () =>
        runSink(sink, sinkStats, channels.at(-1)!, {
          signal: stageSignal,
          commit: (batch) => {
            if (shared) {
              // The rows and their done marks in one transaction: a crash keeps both or neither.
              // The envelopes are the records here: the sink is ours, it reads key and value.
              const keys = batch.map((envelope) => envelope.journalKey);
              journal!.commitWith!(keys, () => target.writeSync(batch));
              return undefined;
            }
            // A sink of the caller's own gets records of its own, not the envelopes.
            return write(
              batch.map(({ key, value }) => ({ key, value })),
              stageSignal,
            );
          },
          acknowledge: (batch) => {
            totals.ok += batch.length;
            live -= batch.length;
            if (journal !== undefined && !shared) {
              for (const envelope of batch) journal.done(envelope.journalKey);
            }
          },
          deadLetter,
        }),
      { name: `${name}:${sink.name}` },
    );

    try {
      await group.wait();
    } catch (error) {
      // A hard stop is the group cancelled by us: `wait()` resolves then. Anything else broke the run.
      failure = error;
    }
  } catch (error) {
    failure = error;
  } finally {
    clearTimeout(drainTimer);
    unsubscribeCaller?.();
    unsubscribeGroup();
    if (handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (failure !== undefined && !stageSignal.aborted) group.cancel(failure);
  }
  // The journal is flushed in every case, also after a failure.
  if (journal !== undefined && begun) {
    try {
      await journal.end();
    } catch (error) {
      failure ??= error;
    }
  }
  const report = makeReport();
  if (failure !== undefined) {
    throw new PipelineError(
      `pipeline "${name}" failed: ${errorMessage(failure)} (read ${report.totals.read}, ok ${report.totals.ok}, failed ${report.totals.failed}, pending ${report.totals.pending})`,
      report,
      { cause: failure },
    );
  }
  return report;
}

interface SourceHooks {
  read(envelope: Envelope): void;
  skip(): void;
  badKey(envelope: Envelope, error: unknown): void;
}

/** Pulls the source into the first channel: one item at a time, only when it has room. */
async function readSource(
  spec: PipelineSpec,
  first: Channel,
  stop: AbortSignal,
  lookUp: boolean,
  hooks: SourceHooks,
): Promise<void> {
  const { source, key: keyOf, journal } = spec;
  const asyncIterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator];
  const iterator: Iterator<unknown> | AsyncIterator<unknown> =
    typeof asyncIterator === 'function'
      ? asyncIterator.call(source)
      : (source as Iterable<unknown>)[Symbol.iterator]();
  const isAsync = typeof asyncIterator === 'function';
  let position = 0;
  let finished = false;
  let nextPending = false;
  const stopRace = isAsync ? new StopRace(stop) : undefined;
  try {
    while (!stop.aborted) {
      let result: IteratorResult<unknown>;
      if (stopRace !== undefined) {
        nextPending = true;
        const next = await stopRace.race(iterator.next() as Promise<IteratorResult<unknown>>);
        if (next === STOPPED) break;
        nextPending = false;
        result = next;
      } else {
        result = iterator.next() as IteratorResult<unknown>;
      }
      if (result.done) {
        finished = true;
        break;
      }
      const at = position++;
      const value = result.value;
      let key: ItemKey = at;
      if (keyOf !== undefined) {
        try {
          key = keyOf(value, at);
          if (typeof key !== 'string' && typeof key !== 'number') {
            throw new TypeError(`key() must return a string or a number, got ${typeof key}`);
          }
        } catch (error) {
          hooks.badKey({ key: at, journalKey: String(at), value }, error);
          continue;
        }
      }
      const journalKey = journal === undefined ? '' : String(key);
      if (lookUp) {
        let done = journal!.isFinished(journalKey);
        if (typeof done !== 'boolean') done = await done;
        if (done) {
          hooks.skip();
          continue;
        }
      }
      const envelope: Envelope = { key, journalKey, value };
      hooks.read(envelope);
      try {
        await first.put(envelope);
      } catch (error) {
        // Shut down by a hard stop: the item stays pending (read, leased, never finished).
        if (error instanceof QueueShutDownError) break;
        throw error;
      }
    }
  } finally {
    stopRace?.dispose();
    first.shutdown();
    // Close the source (a generator's finally runs), unless a next() is still pending on it —
    // an async generator would queue the return() behind that next() and never settle.
    if (!finished && !nextPending && typeof iterator.return === 'function') {
      try {
        const closed = iterator.return();
        if (closed instanceof Promise) await closed;
      } catch {
        // The source's own cleanup failed after we stopped reading it: nothing left to do.
      }
    }
  }
}

const STOPPED = Symbol('stopped');

/**
 * Races promises, one at a time, against `signal`: `race(p)` settles as `p` does, or with
 * `STOPPED` as soon as `signal` aborts (`p` is then left to settle, its rejection handled).
 * One abort subscription for the whole read, not one per item: the per-item `onAbort` was
 * ~2% of `fetch`'s main thread (bench/cli/).
 */
class StopRace {
  #wake: ((value: typeof STOPPED) => void) | undefined;
  readonly #unsubscribe: () => void;

  constructor(signal: AbortSignal) {
    // The caller's loop checks `signal.aborted` before each race; this ends the one pending.
    this.#unsubscribe = onAbort(signal, () => this.#wake?.(STOPPED));
  }

  race<T>(promise: Promise<T>): Promise<T | typeof STOPPED> {
    return new Promise((resolve, reject) => {
      this.#wake = resolve;
      promise.then(resolve, reject);
    });
  }

  dispose(): void {
    this.#wake = undefined;
    this.#unsubscribe();
  }
}

interface WorkerHooks {
  signal: AbortSignal;
  workers: { left: number };
  deadLetter(envelope: Envelope, stage: string, error: unknown): void;
}

/** One of a stage's workers: get → policy.execute(fn) → put, until the input is drained. */
async function runStageWorker(
  stage: StageSpec,
  stats: StageStats,
  input: Channel,
  output: Channel,
  turnstile: Turnstile | undefined,
  hooks: WorkerHooks,
): Promise<void> {
  const { signal } = hooks;
  const { fn, policy, policyKey, name } = stage;
  const pool = stage.lane === 'pool';
  try {
    for (;;) {
      let envelope: Envelope | undefined;
      // Take a queued item without a promise; wait only when there is none.
      if (input.size > 0) envelope = takeNow(input);
      if (envelope === undefined) {
        try {
          envelope = await input.get();
        } catch (error) {
          if (error instanceof QueueShutDownError) return;
          throw error;
        }
      }
      const index = turnstile === undefined ? 0 : turnstile.arrive();
      stats.started(1, input.size);
      const t0 = performance.now();
      let attempts = 0;
      let error: unknown;
      let failed = false;
      try {
        const value = envelope.value;
        const key = envelope.key;
        if (policy === undefined) {
          attempts = 1;
          envelope.value = await (pool
            ? fn(value, { signal })
            : fn(value, { signal, key, stage: name, attempt: 1 } satisfies StageContext));
        } else {
          const call = (inner: AbortSignal) => {
            attempts++;
            return pool
              ? fn(value, { signal: inner })
              : fn(value, {
                  signal: inner,
                  key,
                  stage: name,
                  attempt: attempts,
                } satisfies StageContext);
          };
          envelope.value = await (policyKey === undefined
            ? (policy as Policy).execute(call, { signal })
            : (policy as KeyedPolicyLike).execute(policyKey(value) as never, call, { signal }));
        }
      } catch (caught) {
        error = caught ?? new Error(`stage "${name}" threw ${String(caught)}`);
        // After a hard stop every error is the stop's doing: the item stays pending.
        failed = !signal.aborted;
      }
      stats.finished(1, performance.now() - t0, attempts, error, failed);
      if (failed) hooks.deadLetter(envelope, name, error);
      if (turnstile !== undefined) {
        const turn = turnstile.wait(index);
        if (turn !== undefined) {
          try {
            await turn;
          } catch {
            return; // a hard stop broke the turnstile
          }
        }
      }
      if (error === undefined) {
        try {
          await output.put(envelope);
        } catch (caught) {
          if (caught instanceof QueueShutDownError) return; // a hard stop
          throw caught;
        }
      }
      turnstile?.advance();
    }
  } finally {
    if (--hooks.workers.left === 0) output.shutdown();
  }
}

interface SinkHooks {
  signal: AbortSignal;
  /** Writes (and, when shared, acknowledges in the same transaction) one batch. */
  commit(batch: Envelope[]): void | PromiseLike<void> | undefined;
  acknowledge(batch: Envelope[]): void;
  deadLetter(envelope: Envelope, stage: string, error: unknown): void;
}

/** The sink: takes whatever is queued (up to `batchSize`) and writes it as one batch. */
async function runSink(
  spec: SinkSpec,
  stats: StageStats,
  input: Channel,
  hooks: SinkHooks,
): Promise<void> {
  const { signal } = hooks;
  const { policy, batchSize, batchWaitMs, name } = spec;
  for (;;) {
    let first: Envelope;
    try {
      first = await input.get();
    } catch (error) {
      if (error instanceof QueueShutDownError) return;
      throw error;
    }
    // Let the batch fill: one event-loop turn runs every upstream microtask chain until it
    // blocks, so under load the channel is full by then; when idle, an item waits one turn.
    if (input.size < batchSize - 1) {
      await nextTurn();
      if (batchWaitMs > 0) await fillBatch(input, batchSize - 1, batchWaitMs, signal);
    }
    const batch = [first];
    while (batch.length < batchSize && input.size > 0) batch.push(input.getNowait());
    stats.started(batch.length, input.size);
    const t0 = performance.now();
    let attempts = 0;
    let error: unknown;
    let failed = false;
    try {
      const once = () => {
        attempts++;
        return hooks.commit(batch);
      };
      if (policy === undefined) await once();
      else await policy.execute(once, { signal });
    } catch (caught) {
      error = caught ?? new Error(`sink "${name}" threw ${String(caught)}`);
      failed = !signal.aborted;
    }
    stats.finished(batch.length, performance.now() - t0, attempts, error, failed);
    if (error === undefined) hooks.acknowledge(batch);
    else if (failed) for (const envelope of batch) hooks.deadLetter(envelope, name, error);
  }
}

/**
 * A queued item without waiting, or `undefined` when every queued item is promised to a
 * waiting `get()` already (or the channel was shut down immediately): then `get()` waits.
 */
function takeNow(input: Channel): Envelope | undefined {
  try {
    return input.getNowait();
  } catch {
    return undefined;
  }
}

/** Polling period of `fillBatch`, ms: a timer per period while a batch waits, none otherwise. */
const FILL_POLL_MS = 2;

/**
 * Waits until `input` holds `size` items, it is shut down (no more will come), `signal` aborts or
 * `waitMs` has passed — whichever is first. It polls: a put has no hook to wait on, and one
 * timer every `FILL_POLL_MS` for the few milliseconds a batch waits costs nothing measurable.
 */
async function fillBatch(
  input: Channel,
  size: number,
  waitMs: number,
  signal: AbortSignal,
): Promise<void> {
  const until = performance.now() + waitMs;
  for (;;) {
    if (input.size >= size || input.shutDown || signal.aborted) return;
    const left = until - performance.now();
    if (left <= 0) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(FILL_POLL_MS, left)));
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A sink object or function as one call. */
function toWrite(
  sink: Sink<unknown> | SinkFunction<unknown>,
): (records: SinkRecord<unknown>[], signal: AbortSignal) => void | PromiseLike<void> {
  if (typeof sink === 'function') return (records) => sink(records);
  return (records, signal) => sink.write(records, { signal });
}
