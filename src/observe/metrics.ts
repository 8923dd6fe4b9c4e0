import { Counter, Gauge, Registry } from 'prom-client';
import type {
  BreakerState,
  ComponentSink,
  MetricsSink,
  PoolThreadState,
  TaskOutcome,
} from '../cancel/metrics-sink.ts';
import { DurationMetric, type DurationSeries } from './duration-metric.ts';
import { DurationHistogram, type DurationStats } from './percentiles.ts';

export const TASK_OUTCOMES: readonly TaskOutcome[] = ['ok', 'error', 'timeout', 'cancelled'];

const BREAKER_VALUES: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

const POOL_STATES: readonly PoolThreadState[] = ['busy', 'idle'];

/**
 * Default buckets of `switchyard_task_duration_seconds`, 1 ms to 60 s. The Prometheus buckets
 * serve `histogram_quantile()` in dashboards; `snapshot()` percentiles come from an HDR
 * histogram instead and do not depend on them.
 */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

export interface MetricsOptions {
  /**
   * The prom-client registry to register switchyard's series in. Default: a new `Registry`
   * (never prom-client's global default registry). Pass your own to serve switchyard's series
   * next to your application's.
   */
  registry?: Registry | undefined;
  /** Buckets of `switchyard_task_duration_seconds`, in seconds. */
  buckets?: readonly number[] | undefined;
}

/** What a live source (an instrumented queue or semaphore) reports when read. */
export interface SourceReading {
  queueDepth?: number | undefined;
  inflight?: number | undefined;
}

/** The loop figures a `monitorLoop({ metrics })` lends to the registry. */
export interface LoopSource {
  /** Figures since the previous scrape; starts a new scrape window. */
  scrape(): { delay: DurationStats; utilization: number };
  /** Figures since the monitor started (or was reset), without touching any window. */
  stats(): LoopStats;
}

export interface LoopStats {
  /** Event-loop delay (how late a timer ran), seconds; one sample per `resolutionMs`. */
  delay: DurationStats;
  /** Share of the time the loop was busy, 0..1 (`performance.eventLoopUtilization`). */
  utilization: number;
  /** The time span these figures cover, milliseconds. */
  windowMs: number;
}

export interface ComponentSnapshot {
  /** Finished tasks per outcome, and their sum. */
  tasks: Record<TaskOutcome, number> & { total: number };
  /** Task durations in seconds: exact-to-0.1% percentiles over every recorded task. */
  duration: DurationStats;
  retries: number;
  inflight?: number;
  queueDepth?: number;
  poolThreads?: Partial<Record<PoolThreadState, number>>;
  breakerState?: BreakerState;
}

export interface MetricsSnapshot {
  /** `Date.now()` when taken; two snapshots give rates (throughput = Δtasks.total / Δat). */
  at: number;
  components: Record<string, ComponentSnapshot>;
  /** Present when a `monitorLoop({ metrics })` is attached. */
  loop?: LoopStats;
}

function componentError(where: string, component: unknown): TypeError | undefined {
  if (typeof component === 'string' && component.length > 0) return undefined;
  return new TypeError(`${where}: component must be a non-empty string, got ${String(component)}`);
}

function countError(
  where: string,
  name: string,
  value: unknown,
): TypeError | RangeError | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return new TypeError(`${where}: ${name} must be a finite number, got ${String(value)}`);
  }
  if (value < 0) return new RangeError(`${where}: ${name} must be >= 0, got ${value}`);
  return undefined;
}

function check(error: Error | undefined): void {
  if (error) throw error;
}

/**
 * The figures of one named component (a pool, a queue, a policy, a pipeline stage). Get it once
 * with `metrics.component(name)` and keep it: its methods are the cheap path (a few field
 * writes and one histogram record, no label hashing).
 */
export class ComponentMetrics implements ComponentSink {
  readonly name: string;
  readonly #tasks: Record<TaskOutcome, number> = { ok: 0, error: 0, timeout: 0, cancelled: 0 };
  readonly #durations = new DurationHistogram();
  readonly #series: DurationSeries;
  #retries = 0;
  #inflight: number | undefined;
  #queueDepth: number | undefined;
  #poolThreads: Partial<Record<PoolThreadState, number>> | undefined;
  #breaker: BreakerState | undefined;
  /** @internal an instrumented queue or semaphore that reports live. */
  source: (() => SourceReading) | undefined;

  /** @internal use `metrics.component(name)`. */
  constructor(name: string, series: DurationSeries) {
    this.name = name;
    this.#series = series;
  }

  /** Counts one finished task and records its duration (seconds; e.g. from `performance.now()`). */
  recordTask(outcome: TaskOutcome, seconds: number): void {
    if (!Object.hasOwn(this.#tasks, outcome)) {
      throw new TypeError(
        `recordTask: outcome must be one of ${TASK_OUTCOMES.join(', ')}, got ${String(outcome)}`,
      );
    }
    check(countError('recordTask', 'seconds', seconds));
    this.#tasks[outcome]++;
    this.#durations.recordSeconds(seconds);
    this.#series.observe(seconds);
  }

  /** Units of work running right now. */
  setInflight(count: number): void {
    check(countError('setInflight', 'count', count));
    this.#inflight = count;
  }

  /** Items waiting right now. */
  setQueueDepth(count: number): void {
    check(countError('setQueueDepth', 'count', count));
    this.#queueDepth = count;
  }

  /** Threads (or processes) of a pool in `state` right now. */
  setPoolThreads(state: PoolThreadState, count: number): void {
    if (!POOL_STATES.includes(state)) {
      throw new TypeError(
        `setPoolThreads: state must be one of ${POOL_STATES.join(', ')}, got ${String(state)}`,
      );
    }
    check(countError('setPoolThreads', 'count', count));
    this.#poolThreads ??= {};
    this.#poolThreads[state] = count;
  }

  /** Counts retries (attempts after the first). */
  incRetries(count = 1): void {
    check(countError('incRetries', 'count', count));
    this.#retries += count;
  }

  setBreakerState(state: BreakerState): void {
    if (!Object.hasOwn(BREAKER_VALUES, state)) {
      throw new TypeError(
        `setBreakerState: state must be closed, half-open or open, got ${String(state)}`,
      );
    }
    this.#breaker = state;
  }

  /** @internal */
  reading(): {
    tasks: Readonly<Record<TaskOutcome, number>>;
    retries: number;
    inflight: number | undefined;
    queueDepth: number | undefined;
    poolThreads: Partial<Record<PoolThreadState, number>> | undefined;
    breaker: BreakerState | undefined;
  } {
    const live = this.source?.();
    return {
      tasks: this.#tasks,
      retries: this.#retries,
      inflight: live?.inflight ?? this.#inflight,
      queueDepth: live?.queueDepth ?? this.#queueDepth,
      poolThreads: this.#poolThreads,
      breaker: this.#breaker,
    };
  }

  snapshot(): ComponentSnapshot {
    const r = this.reading();
    const tasks = {
      ...r.tasks,
      total: r.tasks.ok + r.tasks.error + r.tasks.timeout + r.tasks.cancelled,
    };
    const out: ComponentSnapshot = { tasks, duration: this.#durations.stats(), retries: r.retries };
    if (r.inflight !== undefined) out.inflight = r.inflight;
    if (r.queueDepth !== undefined) out.queueDepth = r.queueDepth;
    if (r.poolThreads !== undefined) out.poolThreads = { ...r.poolThreads };
    if (r.breaker !== undefined) out.breakerState = r.breaker;
    return out;
  }
}

/**
 * switchyard's metrics registry: its series on a prom-client `Registry` that you pass in or that
 * it creates — one object, handed to whatever should report (`{ metrics }` options,
 * `instrumentQueue()`, `monitorLoop()`), never a hidden global.
 *
 * Counters and gauges are kept as plain numbers and copied into prom-client only when someone
 * scrapes (`collect()` callbacks), so recording costs a field write; the duration histogram
 * counts its buckets the same way (duration-metric.ts), and an HDR histogram per component
 * gives `snapshot()` accurate p50/p95/p99.
 */
export class Metrics implements MetricsSink {
  /** The prom-client registry holding the series; register your own metrics on it freely. */
  readonly registry: Registry;
  readonly #components = new Map<string, ComponentMetrics>();
  readonly #duration: DurationMetric;
  #loop: LoopSource | undefined;

  constructor(options: MetricsOptions = {}) {
    const { registry = new Registry(), buckets = DEFAULT_DURATION_BUCKETS } = options;
    if (!(registry instanceof Registry)) {
      throw new TypeError('Metrics: registry must be a prom-client Registry');
    }
    this.registry = registry;
    const registers = [registry];
    const components = this.#components;
    const each = <T>(
      pick: (c: ComponentMetrics) => T | undefined,
      use: (c: string, v: T) => void,
    ) => {
      for (const c of components.values()) {
        const v = pick(c);
        if (v !== undefined) use(c.name, v);
      }
    };

    new Counter({
      name: 'switchyard_tasks_total',
      help: 'Finished units of work by component and outcome (ok, error, timeout, cancelled).',
      labelNames: ['component', 'outcome'],
      registers,
      collect() {
        this.reset();
        each(
          (c) => c.reading().tasks,
          (component, tasks) => {
            for (const outcome of TASK_OUTCOMES) this.inc({ component, outcome }, tasks[outcome]);
          },
        );
      },
    });
    this.#duration = new DurationMetric({
      name: 'switchyard_task_duration_seconds',
      help: 'Duration of finished units of work, by component.',
      buckets,
      registers,
    });
    new Gauge({
      name: 'switchyard_queue_depth',
      help: 'Items waiting in a queue or for a pool worker, by component.',
      labelNames: ['component'],
      registers,
      collect() {
        this.reset();
        each(
          (c) => c.reading().queueDepth,
          (component, v) => this.set({ component }, v),
        );
      },
    });
    new Gauge({
      name: 'switchyard_inflight',
      help: 'Units of work running now, by component.',
      labelNames: ['component'],
      registers,
      collect() {
        this.reset();
        each(
          (c) => c.reading().inflight,
          (component, v) => this.set({ component }, v),
        );
      },
    });
    new Gauge({
      name: 'switchyard_pool_threads',
      help: 'Pool threads or processes by component and state (busy, idle).',
      labelNames: ['component', 'state'],
      registers,
      collect() {
        this.reset();
        each(
          (c) => c.reading().poolThreads,
          (component, threads) => {
            for (const state of POOL_STATES) {
              const v = threads[state];
              if (v !== undefined) this.set({ component, state }, v);
            }
          },
        );
      },
    });
    new Counter({
      name: 'switchyard_retries_total',
      help: 'Retries (attempts after the first), by component.',
      labelNames: ['component'],
      registers,
      collect() {
        this.reset();
        each(
          (c) => c.reading().retries || undefined,
          (component, v) => this.inc({ component }, v),
        );
      },
    });
    new Gauge({
      name: 'switchyard_breaker_state',
      help: 'Circuit breaker state by component: 0 closed, 1 half-open, 2 open.',
      labelNames: ['component'],
      registers,
      collect() {
        this.reset();
        each(
          (c) => c.reading().breaker,
          (component, s) => this.set({ component }, BREAKER_VALUES[s]),
        );
      },
    });
    const scrapeLoop = (() => {
      // Both loop gauges read one scrape window: the first collect of a scrape takes it.
      let taken: ReturnType<LoopSource['scrape']> | undefined;
      return {
        delay: () => {
          taken = this.#loop?.scrape();
          return taken;
        },
        utilization: () => {
          const t = taken;
          taken = undefined;
          return t;
        },
      };
    })();
    new Gauge({
      name: 'switchyard_event_loop_delay_seconds',
      help: 'Event-loop delay since the previous scrape (how late timers ran), by quantile; quantile="1" is the maximum. Needs monitorLoop({ metrics }).',
      labelNames: ['quantile'],
      registers,
      collect() {
        this.reset();
        const w = scrapeLoop.delay();
        if (w === undefined) return;
        this.set({ quantile: '0.5' }, w.delay.p50);
        this.set({ quantile: '0.95' }, w.delay.p95);
        this.set({ quantile: '0.99' }, w.delay.p99);
        this.set({ quantile: '1' }, w.delay.max);
      },
    });
    new Gauge({
      name: 'switchyard_event_loop_utilization',
      help: 'Share of time the event loop was busy since the previous scrape, 0..1. Needs monitorLoop({ metrics }).',
      registers,
      collect() {
        this.reset();
        const w = scrapeLoop.utilization();
        if (w !== undefined) this.set(w.utilization);
      },
    });
  }

  /** The handle of one component, created on first use. Keep it for the hot path. */
  component(name: string): ComponentMetrics {
    let c = this.#components.get(name);
    if (c === undefined) {
      check(componentError('component', name));
      c = new ComponentMetrics(name, this.#duration.series(name));
      this.#components.set(name, c);
    }
    return c;
  }

  /** Counts one finished task of `component` and records its duration in seconds. */
  recordTask(component: string, outcome: TaskOutcome, seconds: number): void {
    this.component(component).recordTask(outcome, seconds);
  }

  setInflight(component: string, count: number): void {
    this.component(component).setInflight(count);
  }

  setQueueDepth(component: string, count: number): void {
    this.component(component).setQueueDepth(count);
  }

  setPoolThreads(component: string, state: PoolThreadState, count: number): void {
    this.component(component).setPoolThreads(state, count);
  }

  incRetries(component: string, count = 1): void {
    this.component(component).incRetries(count);
  }

  setBreakerState(component: string, state: BreakerState): void {
    this.component(component).setBreakerState(state);
  }

  /** The Prometheus text exposition of every metric in the registry. */
  prometheus(): Promise<string> {
    return this.registry.metrics();
  }

  /** The `Content-Type` of `prometheus()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every component's figures and the loop's, as plain data (for progress displays, reports). */
  snapshot(): MetricsSnapshot {
    const components: Record<string, ComponentSnapshot> = {};
    for (const c of this.#components.values()) components[c.name] = c.snapshot();
    const out: MetricsSnapshot = { at: Date.now(), components };
    if (this.#loop !== undefined) out.loop = this.#loop.stats();
    return out;
  }

  /** @internal `monitorLoop({ metrics })` attaches here; one monitor per registry. */
  attachLoop(source: LoopSource): () => void {
    if (this.#loop !== undefined) {
      throw new Error('monitorLoop: these metrics already have a loop monitor; stop it first');
    }
    this.#loop = source;
    return () => {
      if (this.#loop === source) this.#loop = undefined;
    };
  }
}
