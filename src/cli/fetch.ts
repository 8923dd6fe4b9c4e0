/**
 * `switchyard fetch <file|->`: fetch → parse → store, on switchyard's own layers. URLs are read
 * one per line; each goes through a per-host policy (retry with backoff and Retry-After →
 * adaptive concurrency → circuit breaker → rate limit → timeout) into undici, its body is parsed on a
 * ThreadPool (htmlparser2: title, links, text length, sha256), and its row is written to SQLite
 * (in the journal's transaction) or JSON Lines. Every line ends as exactly one row: `ok` or the
 * reason it failed.
 */
import { createReadStream, existsSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { TimeoutError } from '../cancel/errors.ts';
import { Metrics } from '../observe/metrics.ts';
import { DurationHistogram } from '../observe/percentiles.ts';
import { type MetricsServer, serveMetrics } from '../observe/serve.ts';
import { pipeline } from '../pipeline/pipeline.ts';
import { sqliteJournal } from '../pipeline/sqlite-journal.ts';
import type { PipelineReport } from '../pipeline/types.ts';
import { ThreadPool } from '../pool/thread-pool.ts';
import { adaptiveConcurrency } from '../resilience/adaptive-concurrency.ts';
import { exponential } from '../resilience/backoff.ts';
import { circuitBreaker } from '../resilience/circuit-breaker.ts';
import { compose } from '../resilience/compose.ts';
import { CircuitOpenError, RateLimitedError } from '../resilience/errors.ts';
import { keyed } from '../resilience/keyed.ts';
import { rateLimit } from '../resilience/rate-limit.ts';
import { retry } from '../resilience/retry.ts';
import {
  type CommandIo,
  cwdOf,
  guard,
  intFlag,
  isTTY,
  numberFlag,
  parseFlags,
  sizeFlag,
} from './args.ts';
import { FetchError, HttpClient, parseHttpUrl } from './http.ts';
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError } from './io.ts';
import { ParseBatcher } from './parse-batch.ts';
import { formatMs, Progress, table } from './progress.ts';
import { writeReport } from './report.ts';
import { type FetchResult, JsonlSink, ResultsSink } from './results.ts';

export const fetchUsage = `Usage: switchyard fetch <file|-> [options]

Fetches every URL in <file> (one per line; blank lines and # comments skipped; "-" reads
stdin), parses each page on a thread pool and stores one row per line.

Options:
  --out <path>             results file (default results.db; *.jsonl or --format jsonl: JSON Lines)
  --format <sqlite|jsonl>  output format (default: from --out's extension, else sqlite)
  --resume                 continue the run recorded in --out: finished lines are skipped
  --overwrite              replace an existing --out instead of refusing
  --concurrency <n>        requests in flight overall (default 64)
  --per-host <n>           requests in flight per host (default 8)
  --rate <n>               requests per second per host, 0 = unlimited (default 50)
  --timeout <ms>           per attempt (default 10000)
  --retries <n>            retries after the first attempt (default 3)
  --max-body <size>        body size cap, e.g. 512k, 8m (default 5m)
  --max-redirects <n>      redirects followed (default 5)
  --threads <n>            parser threads (default: CPUs - 1, at least 1)
  --breaker-ms <ms>        how long a host's open circuit waits before a probe (default 5000)
  --drain-timeout <ms>     on Ctrl-C, how long in-flight URLs may finish (default 5000)
  --metrics-port <port>    serve Prometheus metrics on 127.0.0.1:<port> (0 = any free port)
  --progress-interval <ms> plain progress line period without a TTY (default 2000)
  --report <path>          also write the HTML report (SQLite output only; see switchyard report)
  --quiet                  no progress, no per-line errors; the summary only
  --debug                  print stack traces of errors
  -h, --help               this help

Exit codes: 0 every line ok; 1 some lines failed; 2 bad usage or input; 130 interrupted.`;

const options = {
  out: { type: 'string' },
  format: { type: 'string' },
  resume: { type: 'boolean' },
  overwrite: { type: 'boolean' },
  concurrency: { type: 'string' },
  'per-host': { type: 'string' },
  rate: { type: 'string' },
  timeout: { type: 'string' },
  retries: { type: 'string' },
  'max-body': { type: 'string' },
  'max-redirects': { type: 'string' },
  threads: { type: 'string' },
  'breaker-ms': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'metrics-port': { type: 'string' },
  'progress-interval': { type: 'string' },
  'user-agent': { type: 'string' },
  report: { type: 'string' },
  quiet: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface FetchConfig {
  input: string;
  out: string;
  format: 'sqlite' | 'jsonl';
  resume: boolean;
  overwrite: boolean;
  concurrency: number;
  perHost: number;
  rate: number;
  timeoutMs: number;
  retries: number;
  maxBodyBytes: number;
  maxRedirects: number;
  threads: number;
  breakerMs: number;
  drainTimeoutMs: number;
  metricsPort: number | undefined;
  progressIntervalMs: number;
  userAgent: string;
  quiet: boolean;
}

/** What a run produced, for the summary (and for `demo`). */
export interface FetchSummary {
  config: FetchConfig;
  lines: number;
  ok: number;
  failed: number;
  skipped: number;
  pending: number;
  interrupted: boolean;
  durationMs: number;
  byOutcome: Map<string, number>;
  byStatus: Map<string, number>;
  latency: { p50: number; p95: number; p99: number };
  retries: number;
  breakerOpenings: number;
  /** Times a host's adaptive concurrency limit was cut (429/503/timeouts). */
  concurrencyCuts: number;
  brokenHosts: string[];
  report: PipelineReport;
  metricsUrl: string | undefined;
}

export function main(argv: string[], io: CommandIo): Promise<number> {
  return guard('fetch', argv, io, async () => {
    const { values, positionals } = parseFlags('fetch', argv, options);
    if (values.help) {
      io.stdout.write(`${fetchUsage}\n`);
      return EXIT_OK;
    }
    const config = fetchConfig(values, positionals, cwdOf(io));
    if (values.report !== undefined && config.format !== 'sqlite') {
      throw new UsageError('fetch: --report needs SQLite output (--out *.db)');
    }
    const summary = await runFetch(config, io);
    io.stdout.write(`${formatSummary(summary)}\n`);
    if (values.report !== undefined) {
      const html = resolve(cwdOf(io), values.report);
      writeReport(config.out, html, 'switchyard fetch report', config.out, values.report);
      io.stdout.write(`  report               ${values.report}\n`);
    }
    if (summary.interrupted) {
      io.stderr.write(
        `switchyard fetch: interrupted; ${summary.pending} in flight left pending — run again with --resume to finish\n`,
      );
      return EXIT_INTERRUPTED;
    }
    return summary.failed > 0 ? EXIT_FAILED : EXIT_OK;
  });
}

type Values = ReturnType<typeof parseFlags<typeof options>>['values'];

export function fetchConfig(values: Values, positionals: string[], cwd: string): FetchConfig {
  const c = 'fetch';
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'fetch: expected a URL file (or - for stdin), e.g. switchyard fetch urls.txt'
        : `fetch: expected one URL file, got ${positionals.length}: ${positionals.join(' ')}`,
    );
  }
  const input = positionals[0] === '-' ? '-' : resolve(cwd, positionals[0]!);
  if (input !== '-') {
    if (!existsSync(input)) throw new UsageError(`fetch: no such file: ${positionals[0]}`);
    if (!statSync(input).isFile()) throw new UsageError(`fetch: not a file: ${positionals[0]}`);
  }
  const out = resolve(cwd, values.out ?? 'results.db');
  const format = values.format ?? (/\.jsonl?$/i.test(out) ? 'jsonl' : 'sqlite');
  if (format !== 'sqlite' && format !== 'jsonl') {
    throw new UsageError(`fetch: --format must be sqlite or jsonl, got "${format}"`);
  }
  if (!existsSync(dirname(out))) {
    throw new UsageError(
      `fetch: cannot write --out ${values.out}: no such directory ${dirname(out)}`,
    );
  }
  if (existsSync(out) && statSync(out).isDirectory()) {
    throw new UsageError(`fetch: cannot write --out ${values.out}: it is a directory`);
  }
  if (existsSync(out) && !values.resume && !values.overwrite) {
    throw new UsageError(
      `fetch: ${values.out ?? 'results.db'} already exists; pass --resume to continue that run or --overwrite to start over`,
    );
  }
  const metricsPort =
    values['metrics-port'] === undefined
      ? undefined
      : intFlag(c, 'metrics-port', values['metrics-port'], 0, 0, 65535);
  return {
    input,
    out,
    format,
    resume: values.resume ?? false,
    overwrite: values.overwrite ?? false,
    concurrency: intFlag(c, 'concurrency', values.concurrency, 64, 1, 10_000),
    perHost: intFlag(c, 'per-host', values['per-host'], 8, 1, 10_000),
    rate: numberFlag(c, 'rate', values.rate, 50),
    timeoutMs: intFlag(c, 'timeout', values.timeout, 10_000, 1),
    retries: intFlag(c, 'retries', values.retries, 3, 0, 100),
    maxBodyBytes: sizeFlag(c, 'max-body', values['max-body'], 5 * 1024 * 1024),
    maxRedirects: intFlag(c, 'max-redirects', values['max-redirects'], 5, 0, 100),
    threads: intFlag(c, 'threads', values.threads, Math.max(1, availableParallelism() - 1), 1, 256),
    breakerMs: intFlag(c, 'breaker-ms', values['breaker-ms'], 5000, 0),
    drainTimeoutMs: intFlag(c, 'drain-timeout', values['drain-timeout'], 5000, 0),
    metricsPort,
    progressIntervalMs: intFlag(c, 'progress-interval', values['progress-interval'], 2000, 50),
    userAgent: values['user-agent'] ?? 'switchyard-fetch/0.1 (+https://github.com/switchyard)',
    quiet: values.quiet ?? false,
  };
}

interface Line {
  line: number;
  text: string;
}

interface Fetched {
  result: FetchResult;
  body?: Buffer;
  html?: boolean;
}

const MAX_LINE = 8192;

async function* readLines(input: string, stdin: NodeJS.ReadableStream): AsyncGenerator<Line> {
  const stream = input === '-' ? stdin : createReadStream(input);
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  try {
    for await (const raw of lines) {
      n++;
      const text = raw.trim();
      if (text === '' || text.startsWith('#')) continue;
      yield { line: n, text };
    }
  } finally {
    lines.close();
    if (input !== '-') (stream as ReturnType<typeof createReadStream>).destroy();
  }
}

async function countLines(input: string): Promise<number> {
  let count = 0;
  for await (const _ of readLines(input, process.stdin)) count++;
  return count;
}

function outcomeOf(error: unknown): string {
  if (error instanceof FetchError) return error.outcome;
  if (error instanceof TimeoutError) return 'timeout';
  if (error instanceof CircuitOpenError) return 'circuit_open';
  if (error instanceof RateLimitedError) return 'rate_limited';
  return 'error';
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 500);
}

/** Runs one fetch job; resolves with its summary (never rejects for a failed URL). */
export async function runFetch(config: FetchConfig, io: CommandIo): Promise<FetchSummary> {
  const started = Date.now();
  const tty = isTTY(io) && !config.quiet;
  const total = config.input === '-' ? undefined : await countLines(config.input);

  // Output and journal.
  const journalPath = config.format === 'sqlite' ? config.out : `${config.out}.journal.db`;
  if (config.overwrite || !config.resume) {
    for (const path of [config.out, journalPath, `${journalPath}-wal`, `${journalPath}-shm`]) {
      rmSync(path, { force: true });
    }
  }
  let db: Database.Database;
  try {
    db = new Database(journalPath);
  } catch (error) {
    throw new UsageError(`fetch: cannot open ${journalPath}: ${messageOf(error)}`, {
      cause: error,
    });
  }
  const journal = sqliteJournal(db);
  let sink: ResultsSink | JsonlSink;
  try {
    sink =
      config.format === 'sqlite' ? new ResultsSink(db) : new JsonlSink(config.out, config.resume);
  } catch (error) {
    db.close();
    throw new UsageError(`fetch: cannot write ${config.out}: ${messageOf(error)}`, {
      cause: error,
    });
  }

  // Tallies, for progress and the summary.
  const byOutcome = new Map<string, number>();
  const byStatus = new Map<string, number>();
  const latency = new DurationHistogram();
  let ok = 0;
  let failed = 0;
  let retries = 0;
  let breakerOpenings = 0;
  let concurrencyCuts = 0;
  const brokenHosts = new Set<string>();
  const skippedBefore =
    config.resume && config.format === 'sqlite'
      ? (db.prepare('SELECT count(*) AS n FROM results').get() as { n: number }).n
      : 0;
  const count = (r: FetchResult) => {
    byOutcome.set(r.outcome, (byOutcome.get(r.outcome) ?? 0) + 1);
    const status = r.status === null ? '-' : String(r.status);
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    latency.recordMs(r.durationMs);
    if (r.outcome === 'ok') ok++;
    else failed++;
  };
  const countingSink =
    sink instanceof ResultsSink
      ? Object.assign(Object.create(sink) as ResultsSink, {
          database: sink.database,
          writeSync(batch: readonly { key: string | number; value: unknown }[]) {
            sink.writeSync(batch);
            for (const record of batch) count(record.value as FetchResult);
          },
          write(batch: { key: string | number; value: FetchResult }[]) {
            this.writeSync(batch);
          },
        })
      : {
          write(batch: { key: string | number; value: FetchResult }[]) {
            sink.write(batch);
            for (const record of batch) count(record.value);
          },
        };

  const metrics = new Metrics();
  const urls = metrics.component('urls');
  let server: MetricsServer | undefined;
  const http = new HttpClient({
    connections: config.perHost,
    maxBodyBytes: config.maxBodyBytes,
    maxRedirects: config.maxRedirects,
    userAgent: config.userAgent,
  });
  const pool = new ThreadPool({
    name: 'parse_pool',
    minThreads: 1,
    maxThreads: config.threads,
    metrics,
  });
  const progressOut = (text: string) => (tty ? io.stdout.write(text) : io.stderr.write(text));
  const progress = new Progress({
    stages: ['fetch', 'parse', 'store', 'urls'],
    tty,
    write: progressOut,
    snapshot: () => metrics.snapshot(),
    tally: () => ({ total, ok, failed, skipped: skippedBefore }),
    intervalMs: tty ? 250 : config.progressIntervalMs,
  });

  const perHost = keyed(
    (url: URL) => url.host,
    (host: string) => {
      const breaker = circuitBreaker({
        name: `circuit ${host}`,
        failureRatio: 0.5,
        minimumRequests: 20,
        windowMs: 10_000,
        halfOpenAfterMs: config.breakerMs,
        isFailure: (e) => e instanceof TimeoutError || (e instanceof FetchError && e.hostFailure),
      });
      // AIMD per host: starts at --per-host, cut on 429/503/timeouts, grows back on successes.
      const limiter = adaptiveConcurrency({
        name: `limit ${host}`,
        min: 1,
        max: config.perHost,
        initial: config.perHost,
        queue: config.concurrency,
      });
      limiter.onLimitChange((event) => {
        if (event.to < event.from) concurrencyCuts++;
      });
      breaker.onBreak(() => {
        breakerOpenings++;
        brokenHosts.add(host);
      });
      return compose(
        retry({
          attempts: config.retries + 1,
          backoff: exponential({ initialMs: 100, maxMs: 5_000 }),
          retryOn: (e) => e instanceof TimeoutError || (e instanceof FetchError && e.retryable),
          maxRetryAfterMs: 30_000,
          onRetry: () => {
            retries++;
            urls.incRetries();
          },
        }),
        limiter,
        breaker,
        ...(config.rate > 0
          ? [rateLimit({ rate: config.rate, burst: Math.max(1, Math.ceil(config.rate)) })]
          : []),
        // The per-attempt timeout (--timeout) is the innermost layer: http.get's own (http.ts).
      );
    },
    { maxKeys: 10_000 },
  );

  const parser = pool.module<typeof import('./parse-worker.ts')>(
    new URL(
      import.meta.url.endsWith('.ts') ? './parse-worker.ts' : './parse-worker.js',
      import.meta.url,
    ),
  );
  const batcher = new ParseBatcher((bodies, ends, baseUrls, html, options) =>
    parser.parseMany(bodies, ends, baseUrls, html, options),
  );

  const failedResult = (
    item: Line,
    host: string | null,
    error: unknown,
    attempts: number,
    t0: number,
  ): FetchResult => ({
    line: item.line,
    url: item.text.slice(0, 2048),
    host,
    outcome: outcomeOf(error),
    status: error instanceof FetchError ? (error.status ?? null) : null,
    error: messageOf(error),
    attempts,
    redirects: 0,
    finalUrl: null,
    contentType: null,
    bytes: null,
    title: null,
    links: null,
    textLength: null,
    sha256: null,
    startedAt: t0,
    durationMs: Date.now() - t0,
  });

  const fetchStage = async (item: Line, ctx: { signal: AbortSignal }): Promise<Fetched> => {
    const t0 = Date.now();
    let url: URL;
    try {
      if (item.text.length > MAX_LINE)
        throw new FetchError('invalid', `line longer than ${MAX_LINE} characters`);
      url = parseHttpUrl(item.text);
    } catch (error) {
      if (!config.quiet)
        io.stderr.write(`switchyard fetch: line ${item.line}: ${messageOf(error)}\n`);
      urls.recordTask('error', 0);
      return { result: failedResult(item, null, error, 0, t0) };
    }
    let attempts = 0;
    urls.setInflight(++inflight);
    try {
      const response = await perHost.execute(
        url,
        (signal) => {
          attempts++;
          return http.get(url, signal, config.timeoutMs);
        },
        { signal: ctx.signal },
      );
      urls.recordTask('ok', (Date.now() - t0) / 1000);
      return {
        result: {
          line: item.line,
          url: url.href,
          host: url.host,
          outcome: 'ok',
          status: response.status,
          error: null,
          attempts,
          redirects: response.redirects,
          finalUrl: response.finalUrl,
          contentType: response.contentType || null,
          bytes: response.body.length,
          title: null,
          links: null,
          textLength: null,
          sha256: null,
          startedAt: t0,
          durationMs: Date.now() - t0,
        },
        body: response.body,
        html: /html|xml/i.test(response.contentType) || response.contentType === '',
      };
    } catch (error) {
      // A hard stop (second Ctrl-C, drain timeout): not a failure — the line stays pending.
      if (ctx.signal.aborted) throw error;
      urls.recordTask(
        error instanceof TimeoutError ? 'timeout' : 'error',
        (Date.now() - t0) / 1000,
      );
      return { result: failedResult(item, url.host, error, attempts, t0) };
    } finally {
      urls.setInflight(--inflight);
    }
  };
  let inflight = 0;
  let parseErrorShown = false;

  const parseStage = async (
    fetched: Fetched,
    ctx: { signal: AbortSignal },
  ): Promise<FetchResult> => {
    const { result, body } = fetched;
    if (body === undefined) return result;
    try {
      const facts = await batcher.parse(
        body,
        result.finalUrl ?? result.url,
        fetched.html ?? true,
        ctx.signal,
      );
      // The stage's own object, filled in place: no copy of a 17-field row per page.
      return Object.assign(result, facts);
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      if (!parseErrorShown && !config.quiet) {
        parseErrorShown = true;
        io.stderr.write(`switchyard fetch: parsing ${result.url} failed: ${messageOf(error)}\n`);
      }
      result.outcome = 'parse_error';
      result.error = messageOf(error);
      return result;
    }
  };

  // Pages held by the parse stage: enough for full batches, and never more than the fetch
  // stage itself holds (so at most twice --concurrency bodies in memory, each ≤ --max-body).
  const parseConcurrency = Math.max(config.threads * 2, Math.min(config.concurrency, 64));
  let report: PipelineReport;
  try {
    if (config.metricsPort !== undefined) {
      server = await serveMetrics({ metrics, port: config.metricsPort, unref: true });
      if (!config.quiet) io.stderr.write(`switchyard fetch: metrics at ${server.url}\n`);
    }
    if (!config.quiet) progress.start();
    report = await pipeline({ name: 'fetch', journal, metrics })
      .from(readLines(config.input, io.stdin ?? process.stdin), { key: (item: Line) => item.line })
      .map('fetch', fetchStage, { concurrency: config.concurrency, buffer: config.concurrency })
      // Wide enough for a full batch per loop turn (parse-batch.ts).
      .map('parse', parseStage, { concurrency: parseConcurrency, buffer: config.threads * 4 })
      // A batch may wait 25 ms to fill: a few large transactions instead of one per loop turn
      // (bench/cli/: 638 → 127 commits for 20,000 URLs, ~6% less main-thread CPU).
      .to('store', countingSink as ResultsSink, { batchSize: 256, batchWaitMs: 25 })
      .run({ signal: io.signal, drainTimeoutMs: config.drainTimeoutMs });
  } finally {
    if (!config.quiet) progress.stop();
    batcher.close();
    await server?.close();
    await pool.close({ force: true });
    await http.close();
    if (sink instanceof JsonlSink) sink.close();
    db.close();
  }
  const stats = latency.stats();
  return {
    config,
    lines: total ?? report.totals.read,
    ok,
    failed: failed + report.totals.failed,
    skipped: report.totals.skipped,
    pending: report.totals.pending,
    interrupted: report.totals.interrupted,
    durationMs: Date.now() - started,
    byOutcome,
    byStatus,
    latency: { p50: stats.p50 * 1000, p95: stats.p95 * 1000, p99: stats.p99 * 1000 },
    retries,
    breakerOpenings,
    concurrencyCuts,
    brokenHosts: [...brokenHosts],
    report,
    metricsUrl: server?.url,
  };
}

/** The end-of-run table. */
export function formatSummary(s: FetchSummary): string {
  const done = s.ok + s.failed;
  const seconds = s.durationMs / 1000;
  const lines: string[] = [];
  lines.push('');
  lines.push(
    `fetched ${done} URLs in ${formatMs(s.durationMs)} (${(done / Math.max(seconds, 1e-3)).toFixed(0)}/s)` +
      `${s.skipped ? `, ${s.skipped} skipped (finished by an earlier run)` : ''}` +
      `${s.pending ? `, ${s.pending} left pending` : ''}`,
  );
  lines.push('');
  const outcomes = [...s.byOutcome].sort((a, b) => b[1] - a[1]);
  const statuses = [...s.byStatus].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  lines.push(
    table(
      ['outcome', 'count', 'share'],
      outcomes.map(([o, n]) => [o, n, `${((100 * n) / Math.max(done, 1)).toFixed(1)}%`]),
    ),
  );
  lines.push('');
  lines.push(
    table(
      ['status', 'count'],
      statuses.map(([st, n]) => [st, n]),
    ),
  );
  lines.push('');
  const parseStage = s.report.stages.find((st) => st.name === 'parse');
  lines.push(
    table(
      ['', 'p50', 'p95', 'p99'],
      [
        [
          'per URL (retries included)',
          formatMs(s.latency.p50),
          formatMs(s.latency.p95),
          formatMs(s.latency.p99),
        ],
        ...(parseStage
          ? [
              [
                'parse (thread pool)',
                formatMs(parseStage.p50Ms),
                formatMs(parseStage.p95Ms),
                formatMs(parseStage.p99Ms),
              ],
            ]
          : []),
      ],
    ),
  );
  lines.push('');
  lines.push(
    table(
      ['totals', ''],
      [
        ['ok', s.ok],
        ['failed', s.failed],
        ['retries', s.retries],
        [
          'breaker openings',
          `${s.breakerOpenings}${s.brokenHosts.length ? ` (${s.brokenHosts.join(', ')})` : ''}`,
        ],
        ['per-host limit cuts', s.concurrencyCuts],
        ['throughput', `${(done / Math.max(seconds, 1e-3)).toFixed(1)} URLs/s`],
        [
          'results',
          `${s.config.out} (${s.config.format === 'sqlite' ? 'table results' : 'JSON Lines'})`,
        ],
      ],
      ['l', 'l'],
    ),
  );
  return lines.join('\n');
}
