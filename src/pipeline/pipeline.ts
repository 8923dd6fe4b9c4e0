import type { MetricsSink } from '../cancel/metrics-sink.ts';
import { checkDuration } from '../cancel/options.ts';
import type { Policy } from '../cancel/policy.ts';
import type { Journal } from './journal.ts';
import {
  type KeyedPolicyLike,
  type PipelineRunOptions,
  type PipelineSpec,
  runPipeline,
  type SinkSpec,
  type StageSpec,
} from './runtime.ts';
import type {
  ItemKey,
  PipelineReport,
  PoolTaskFunction,
  Sink,
  SinkFunction,
  StageFunction,
} from './types.ts';

export interface PipelineOptions {
  /** Names the pipeline in the journal (its items are keyed by it), reports and errors. */
  name: string;
  /** Where item states and dead letters are kept, e.g. `sqliteJournal('job.db')`. Default none. */
  journal?: Journal | undefined;
  /** Each stage records into it, under the stage's name (observe's `Metrics`, or any `MetricsSink`). */
  metrics?: MetricsSink | undefined;
}

export interface SourceOptions<T> {
  /**
   * An item's identity for the journal. Default: its position in the source (0, 1, …), which
   * is stable only if the source yields the same items in the same order every run.
   * Keys must be unique within a source.
   */
  key?: ((item: T, position: number) => ItemKey) | undefined;
}

export interface StageOptions<T> {
  /** Workers running `fn` at once. Default 4. */
  concurrency?: number | undefined;
  /** The bound of the stage's input channel. Default 16. */
  buffer?: number | undefined;
  /**
   * Wraps each call (`policy.execute((signal) => fn(item, ctx), { signal })`): retries, timeout,
   * circuit breaker… An item that still fails is a dead letter.
   */
  policy?: Policy | KeyedPolicyLike | undefined;
  /** Keep input order (a finished item waits for the ones before it). Default false. */
  ordered?: boolean | undefined;
  /**
   * With a `keyed()` policy: the input it is keyed by, e.g. `(url) => new URL(url).host`, so
   * the call runs as `policy.execute(key(item), fn, { signal })`.
   */
  key?: ((item: T) => unknown) | undefined;
  /**
   * `'loop'` (default): `fn(item, ctx)` runs on the event loop. `'pool'`: `fn` is a pool
   * module-handle method (`pool.module(url).parse`), called as `fn(item, { signal })`.
   */
  lane?: 'loop' | 'pool' | undefined;
}

export interface SinkStageOptions {
  /** Most items written in one `write` call (and one journal transaction). Default 256. */
  batchSize?: number | undefined;
  /**
   * How long a batch that is not full may wait for more items before it is written,
   * milliseconds. Default 0: one event-loop turn (whatever the upstream stages finish in it).
   * A longer wait means fewer, larger writes (one journal transaction each) at the cost of that
   * much latency per item; the wait ends early when the batch fills, the input ends or the run
   * is stopped.
   */
  batchWaitMs?: number | undefined;
  /** Wraps each batch write; a batch that still fails makes every item in it a dead letter. */
  policy?: Policy | undefined;
}

function checkName(where: string, name: unknown, taken: readonly string[]): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`${where}: name must be a non-empty string, got ${String(name)}`);
  }
  if (taken.includes(name)) {
    throw new TypeError(`${where}: a stage is already named "${name}"; stage names must be unique`);
  }
  return name;
}

function checkCount(where: string, option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${where}: ${option} must be an integer >= 1, got ${String(value)}`);
  }
  return value;
}

function checkPolicy(where: string, policy: unknown): void {
  if (policy === undefined) return;
  if (
    policy === null ||
    typeof policy !== 'object' ||
    typeof (policy as Policy).execute !== 'function'
  ) {
    throw new TypeError(`${where}: policy must be an object with execute(), got ${typeof policy}`);
  }
}

/** The first step: `pipeline({ name }).from(source)`. */
export class PipelineBuilder {
  readonly #options: PipelineOptions;

  constructor(options: PipelineOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('pipeline: expected options { name, journal?, metrics? }');
    }
    checkName('pipeline', options.name, []);
    const { journal, metrics } = options;
    if (journal !== undefined && (journal === null || typeof journal.begin !== 'function')) {
      throw new TypeError('pipeline: journal must implement Journal (begin, lease, done, …)');
    }
    if (metrics !== undefined && (metrics === null || typeof metrics.component !== 'function')) {
      throw new TypeError('pipeline: metrics must be a MetricsSink (observe’s Metrics)');
    }
    this.#options = options;
  }

  /** Where items come from: any iterable or async iterable, pulled only as fast as the stages allow. */
  from<T>(source: Iterable<T> | AsyncIterable<T>, options: SourceOptions<T> = {}): Pipeline<T> {
    if (
      source === null ||
      typeof source !== 'object' ||
      (typeof (source as AsyncIterable<T>)[Symbol.asyncIterator] !== 'function' &&
        typeof (source as Iterable<T>)[Symbol.iterator] !== 'function')
    ) {
      throw new TypeError('pipeline.from: source must be an iterable or an async iterable');
    }
    const key = options.key;
    if (key !== undefined && typeof key !== 'function') {
      throw new TypeError(`pipeline.from: key must be a function, got ${typeof key}`);
    }
    return new Pipeline<T>({
      name: this.#options.name,
      journal: this.#options.journal,
      metrics: this.#options.metrics,
      source: source as Iterable<unknown> | AsyncIterable<unknown>,
      key: key as PipelineSpec['key'],
      stages: [],
    });
  }
}

type PartialSpec = Omit<PipelineSpec, 'sink'>;

/** A pipeline with a source and zero or more stages; `.map` adds one, `.to` ends it. */
export class Pipeline<T> {
  readonly #spec: PartialSpec;

  /** @internal use `pipeline(options).from(source)`. */
  constructor(spec: PartialSpec) {
    this.#spec = spec;
  }

  /** Adds a stage whose function is a pool module-handle method (`lane: 'pool'`). */
  map<U>(
    name: string,
    fn: PoolTaskFunction<T, U>,
    options: StageOptions<T> & { lane: 'pool' },
  ): Pipeline<Awaited<U>>;
  /** Adds a stage: `concurrency` workers run `fn(item, ctx)` on items from a bounded channel. */
  map<U>(
    name: string,
    fn: StageFunction<T, U>,
    options?: StageOptions<T> & { lane?: 'loop' | undefined },
  ): Pipeline<Awaited<U>>;
  map<U>(
    name: string,
    fn: StageFunction<T, U> | PoolTaskFunction<T, U>,
    options: StageOptions<T> = {},
  ): Pipeline<Awaited<U>> {
    const where = `pipeline.map("${String(name)}")`;
    checkName(
      where,
      name,
      this.#spec.stages.map((s) => s.name),
    );
    if (typeof fn !== 'function') {
      throw new TypeError(`${where}: fn must be a function, got ${typeof fn}`);
    }
    const {
      concurrency = 4,
      buffer = 16,
      policy,
      ordered = false,
      key,
      lane = 'loop',
    } = options ?? {};
    checkCount(where, 'concurrency', concurrency);
    checkCount(where, 'buffer', buffer);
    checkPolicy(where, policy);
    if (key !== undefined && typeof key !== 'function') {
      throw new TypeError(`${where}: key must be a function, got ${typeof key}`);
    }
    if (key !== undefined && policy === undefined) {
      throw new TypeError(`${where}: key selects the input of a keyed() policy; give a policy too`);
    }
    if (lane !== 'loop' && lane !== 'pool') {
      throw new TypeError(`${where}: lane must be 'loop' or 'pool', got ${String(lane)}`);
    }
    const stage: StageSpec = {
      name,
      fn: fn as StageSpec['fn'],
      concurrency,
      buffer,
      policy,
      policyKey: key as StageSpec['policyKey'],
      ordered: Boolean(ordered),
      lane,
    };
    return new Pipeline<Awaited<U>>({ ...this.#spec, stages: [...this.#spec.stages, stage] });
  }

  /**
   * Ends the pipeline in a sink: an object with `write(batch)` (such as `sqliteSink`), or a
   * function of the batch. It must write idempotently by `key`.
   */
  to(
    name: string,
    sink: Sink<T> | SinkFunction<T>,
    options: SinkStageOptions = {},
  ): RunnablePipeline {
    const where = `pipeline.to("${String(name)}")`;
    checkName(
      where,
      name,
      this.#spec.stages.map((s) => s.name),
    );
    if (
      typeof sink !== 'function' &&
      (sink === null || typeof sink !== 'object' || typeof sink.write !== 'function')
    ) {
      throw new TypeError(`${where}: sink must be a function or an object with write(batch)`);
    }
    const { batchSize = 256, batchWaitMs = 0, policy } = options ?? {};
    checkCount(where, 'batchSize', batchSize);
    checkDuration(where, 'batchWaitMs', batchWaitMs);
    checkPolicy(where, policy);
    const spec: SinkSpec = {
      name,
      sink: sink as SinkSpec['sink'],
      batchSize,
      batchWaitMs,
      policy,
    };
    return new RunnablePipeline({ ...this.#spec, sink: spec });
  }
}

/** A complete pipeline. `run()` may be called again (e.g. to resume with the same journal). */
export class RunnablePipeline {
  readonly #spec: PipelineSpec;

  /** @internal */
  constructor(spec: PipelineSpec) {
    this.#spec = spec;
  }

  get name(): string {
    return this.#spec.name;
  }

  /** The stage names in order, the sink last: the names of the report's stages and metrics. */
  get stageNames(): string[] {
    return [...this.#spec.stages.map((s) => s.name), this.#spec.sink.name];
  }

  /**
   * Runs until the source is exhausted and every item is written or dead-lettered, or until a
   * stop (see `PipelineRunOptions`). Resolves with the report; rejects with `PipelineError` (its
   * `report` attached) only when the run itself broke — never because items failed.
   */
  run(options?: PipelineRunOptions): Promise<PipelineReport> {
    return runPipeline(this.#spec, options);
  }
}

/** Starts a pipeline: `pipeline({ name, journal?, metrics? }).from(…).map(…).to(…).run()`. */
export function pipeline(options: PipelineOptions): PipelineBuilder {
  return new PipelineBuilder(options);
}
