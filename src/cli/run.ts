/**
 * `switchyard run <module>`: runs a user's pipeline module with the CLI's progress, metrics,
 * journal and shutdown. The module's default export is either a function
 * `(ctx: RunContext) => RunnablePipeline | Promise<RunnablePipeline>` — give `ctx.journal` and
 * `ctx.metrics` to `pipeline({ … })` to get resume and live progress — or a `RunnablePipeline`.
 */
import { existsSync, rmSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Metrics } from '../observe/metrics.ts';
import { type MetricsServer, serveMetrics } from '../observe/serve.ts';
import type { Journal } from '../pipeline/journal.ts';
import type { RunnablePipeline } from '../pipeline/pipeline.ts';
import { sqliteJournal } from '../pipeline/sqlite-journal.ts';
import type { PipelineReport } from '../pipeline/types.ts';
import { type CommandIo, cwdOf, guard, intFlag, isTTY, parseFlags } from './args.ts';
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError } from './io.ts';
import { formatMs, Progress, table } from './progress.ts';

export const runUsage = `Usage: switchyard run <module> [options] [-- args for the module]

Runs the pipeline a module exports by default: either a function (ctx) => pipeline, where ctx is
{ journal, metrics, signal, args } — pass ctx.journal and ctx.metrics to pipeline({ … }) — or a
built pipeline. Ctrl-C drains the items in flight (then stops; a second one stops at once);
unfinished items stay pending in the journal and --resume runs them.

Options:
  --journal <path>         the SQLite journal (default <module name>.journal.db)
  --resume                 continue the run recorded in --journal
  --no-journal             run without one (nothing is durable)
  --drain-timeout <ms>     on Ctrl-C, how long in-flight items may finish (default 30000)
  --metrics-port <port>    serve Prometheus metrics on 127.0.0.1:<port>
  --progress-interval <ms> plain progress line period without a TTY (default 2000)
  --quiet                  the summary only
  --debug                  print stack traces of errors
  -h, --help               this help

Exit codes: 0 every item ok; 1 some failed (or the run broke); 2 bad usage; 130 interrupted.`;

const options = {
  journal: { type: 'string' },
  resume: { type: 'boolean' },
  'no-journal': { type: 'boolean' },
  'drain-timeout': { type: 'string' },
  'metrics-port': { type: 'string' },
  'progress-interval': { type: 'string' },
  quiet: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What a pipeline module's default-exported function receives. */
export interface RunContext {
  journal: Journal | undefined;
  metrics: Metrics;
  signal: AbortSignal | undefined;
  /** The arguments after `--`. */
  args: string[];
}

function isRunnable(value: unknown): value is RunnablePipeline {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as RunnablePipeline).run === 'function' &&
    Array.isArray((value as RunnablePipeline).stageNames)
  );
}

export function main(argv: string[], io: CommandIo): Promise<number> {
  return guard('run', argv, io, async () => {
    const split = argv.indexOf('--');
    const own = split === -1 ? argv : argv.slice(0, split);
    const moduleArgs = split === -1 ? [] : argv.slice(split + 1);
    const { values, positionals } = parseFlags('run', own, options);
    if (values.help) {
      io.stdout.write(`${runUsage}\n`);
      return EXIT_OK;
    }
    if (positionals.length !== 1) {
      throw new UsageError('run: expected one pipeline module, e.g. switchyard run ./crawl.ts');
    }
    const path = resolve(cwdOf(io), positionals[0]!);
    if (!existsSync(path)) throw new UsageError(`run: no such module: ${positionals[0]}`);
    const drainTimeoutMs = intFlag('run', 'drain-timeout', values['drain-timeout'], 30_000, 0);
    const interval = intFlag('run', 'progress-interval', values['progress-interval'], 2000, 50);
    const metricsPort =
      values['metrics-port'] === undefined
        ? undefined
        : intFlag('run', 'metrics-port', values['metrics-port'], 0, 0, 65535);

    let exported: unknown;
    try {
      exported = (await import(pathToFileURL(path).href)).default;
    } catch (error) {
      throw new UsageError(
        `run: cannot load ${positionals[0]}: ${(error as Error).message.split('\n')[0]}`,
        {
          cause: error,
        },
      );
    }
    if (typeof exported !== 'function' && !isRunnable(exported)) {
      throw new UsageError(
        `run: ${positionals[0]} must export default a pipeline or a function (ctx) => pipeline`,
      );
    }

    const journalPath = values['no-journal']
      ? undefined
      : resolve(cwdOf(io), values.journal ?? `${basename(path, extname(path))}.journal.db`);
    if (journalPath !== undefined && existsSync(journalPath) && !values.resume) {
      throw new UsageError(
        `run: ${journalPath} already exists; pass --resume to continue that run, or remove it to start over`,
      );
    }
    if (journalPath !== undefined && !values.resume) {
      rmSync(`${journalPath}-wal`, { force: true });
      rmSync(`${journalPath}-shm`, { force: true });
    }
    let journal: ReturnType<typeof sqliteJournal> | undefined;
    try {
      journal = journalPath === undefined ? undefined : sqliteJournal(journalPath);
    } catch (error) {
      throw new UsageError(`run: cannot open journal ${journalPath}: ${(error as Error).message}`);
    }
    const metrics = new Metrics();
    const runnable = isRunnable(exported)
      ? exported
      : await (exported as (ctx: RunContext) => unknown)({
          journal,
          metrics,
          signal: io.signal,
          args: moduleArgs,
        });
    if (!isRunnable(runnable)) {
      throw new UsageError(
        `run: the default export of ${positionals[0]} did not return a pipeline`,
      );
    }
    const stages = runnable.stageNames;
    const tally = () => {
      const s = metrics.snapshot().components;
      const last = s[stages[stages.length - 2] ?? stages[0]!];
      let failed = 0;
      for (const name of stages) failed += (s[name]?.tasks.total ?? 0) - (s[name]?.tasks.ok ?? 0);
      return { total: undefined, ok: last?.tasks.ok ?? 0, failed, skipped: 0 };
    };
    const tty = isTTY(io) && !values.quiet;
    const progress = new Progress({
      stages,
      tty,
      write: (t) => (tty ? io.stdout.write(t) : io.stderr.write(t)),
      snapshot: () => metrics.snapshot(),
      tally,
      intervalMs: tty ? 250 : interval,
    });
    let server: MetricsServer | undefined;
    let report: PipelineReport;
    try {
      if (metricsPort !== undefined) {
        server = await serveMetrics({ metrics, port: metricsPort, unref: true });
        if (!values.quiet) io.stderr.write(`switchyard run: metrics at ${server.url}\n`);
      }
      if (!values.quiet) progress.start();
      report = await runnable.run({ signal: io.signal, drainTimeoutMs });
    } catch (error) {
      const attached = (error as { report?: PipelineReport }).report;
      if (attached !== undefined) io.stdout.write(`${formatRunReport(attached)}\n`);
      throw error;
    } finally {
      if (!values.quiet) progress.stop();
      await server?.close();
    }
    io.stdout.write(`${formatRunReport(report)}\n`);
    if (report.totals.interrupted) {
      io.stderr.write(
        `switchyard run: interrupted; ${report.totals.pending} items left pending${journalPath ? ' — run again with --resume to finish' : ''}\n`,
      );
      return EXIT_INTERRUPTED;
    }
    return report.totals.failed > 0 ? EXIT_FAILED : EXIT_OK;
  });
}

export function formatRunReport(report: PipelineReport): string {
  const t = report.totals;
  const lines = [
    '',
    `${report.name}: read ${t.read} · ok ${t.ok} · failed ${t.failed} · pending ${t.pending} · skipped ${t.skipped} in ${formatMs(t.durationMs)}`,
    '',
    table(
      ['stage', 'in', 'ok', 'failed', 'retried', 'p50', 'p95', 'p99', 'ok/s'],
      report.stages.map((s) => [
        s.name,
        s.in,
        s.ok,
        s.failed,
        s.retried,
        formatMs(s.p50Ms),
        formatMs(s.p95Ms),
        formatMs(s.p99Ms),
        s.throughputPerSec.toFixed(1),
      ]),
    ),
  ];
  if (report.deadLetters.length > 0) {
    lines.push('', '  first failures:');
    for (const d of report.deadLetters.slice(0, 5)) {
      lines.push(`  - ${d.key} at ${d.stage}: ${d.errorClass}: ${d.message}`);
    }
  }
  return lines.join('\n');
}
