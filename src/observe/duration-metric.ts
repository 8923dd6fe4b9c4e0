import type { Histogram, Registry } from 'prom-client';

/** One exposition value, as a prom-client registry reads it (`get()`, `getForPromString()`). */
export interface DurationValue {
  metricName: string;
  labels: { le?: number | string; component?: string };
  /** Only in `getForPromString()`: labels the registry formats once per object and caches. */
  sharedLabels?: { component: string };
  value: number;
}

interface DurationMetricObject {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: DurationValue[];
}

const NO_LABELS = Object.freeze({});
const INF = Object.freeze({ le: '+Inf' });

/** One component's series of the duration histogram: what prom-client keeps per label set. */
export class DurationSeries {
  readonly labels: { component: string };
  readonly #bounds: readonly number[];
  /** Observations per bucket, not cumulative; the last slot is above every bound (+Inf only). */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(component: string, bounds: readonly number[]) {
    this.labels = { component };
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  /** Records one duration, seconds: prom-client's bucket rule (the first bound >= the value). */
  observe(seconds: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sum += seconds;
    this.#count++;
  }

  /**
   * The exposition values of this series, in prom-client's order: buckets, +Inf, sum, count.
   * `shared`: the series' labels as `sharedLabels` (one object the registry formats once and
   * caches, as prom-client's own histograms do); otherwise merged into each value's labels.
   */
  values(
    name: string,
    bucketLabels: readonly object[],
    shared: boolean,
    into: DurationValue[],
  ): void {
    // As prom-client: a label set appears from its first observation (and again after a reset).
    if (this.#count === 0) return;
    const series = this.labels;
    const value = (metricName: string, own: object, v: number): DurationValue =>
      shared
        ? { metricName, labels: own as DurationValue['labels'], sharedLabels: series, value: v }
        : { metricName, labels: { ...own, ...series }, value: v };
    let cumulative = 0;
    for (let i = 0; i < this.#bounds.length; i++) {
      cumulative += this.#counts[i]!;
      into.push(value(`${name}_bucket`, bucketLabels[i]!, cumulative));
    }
    into.push(
      value(`${name}_bucket`, INF, this.#count),
      value(`${name}_sum`, NO_LABELS, this.#sum),
      value(`${name}_count`, NO_LABELS, this.#count),
    );
  }

  reset(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }
}

/**
 * `switchyard_task_duration_seconds`: a histogram by component whose observations switchyard
 * counts itself and hands to the registry only when it is scraped. prom-client's own
 * `Histogram.observe()` turns the label set into a hash string on every call (~0.5 µs; `fetch`
 * makes three per URL: 4.5% of its main thread's profile, bench/cli/); this is a bucket search
 * and three writes. The registry reads it through the public metric contract (`name`, `help`, `type`,
 * `get()`), and the text is what a prom-client Histogram fed the same values gives
 * (test/observe/duration-metric.test.ts compares them).
 */
export class DurationMetric {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  /** `{ le }` per bound, made once: the registry only reads them. */
  readonly #bucketLabels: readonly object[];
  readonly #series = new Map<string, DurationSeries>();

  constructor(options: {
    name: string;
    help: string;
    buckets: readonly number[];
    registers: Registry[];
  }) {
    this.name = options.name;
    this.help = options.help;
    const bounds = options.buckets;
    for (let i = 0; i < bounds.length; i++) {
      if (!Number.isFinite(bounds[i]) || (i > 0 && !(bounds[i]! > bounds[i - 1]!))) {
        throw new RangeError(
          `Metrics: buckets must be finite numbers in increasing order, got [${bounds.join(', ')}]`,
        );
      }
    }
    this.#bounds = [...bounds];
    this.#bucketLabels = this.#bounds.map((le) => Object.freeze({ le }));
    for (const registry of options.registers) {
      registry.registerMetric(this as unknown as Histogram<'component'>);
    }
  }

  /** The series of `component`, made on first use. Keep it: observing through it is the cheap path. */
  series(component: string): DurationSeries {
    let series = this.#series.get(component);
    if (series === undefined) {
      series = new DurationSeries(component, this.#bounds);
      this.#series.set(component, series);
    }
    return series;
  }

  /** The metric with every value's labels complete (`registry.getMetricsAsJSON()`). */
  async get(): Promise<DurationMetricObject> {
    return this.#object(false);
  }

  /**
   * What the registry renders the text exposition from when a metric has it (prom-client's own
   * histograms do): the series' labels shared per series, so they are formatted once per scrape.
   */
  async getForPromString(): Promise<DurationMetricObject> {
    return this.#object(true);
  }

  #object(shared: boolean): DurationMetricObject {
    const values: DurationValue[] = [];
    for (const series of this.#series.values()) {
      series.values(this.name, this.#bucketLabels, shared, values);
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }

  /** `registry.resetMetrics()`: every series back to zero. */
  reset(): void {
    for (const series of this.#series.values()) series.reset();
  }
}
