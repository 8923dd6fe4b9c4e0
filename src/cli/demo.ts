/**
 * `switchyard demo`: starts the local fault-ridden site (demo-site.ts) on 127.0.0.1, writes a URL
 * file for it (with two garbage lines), runs `fetch` against it and prints the summary. Offline.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type CommandIo, cwdOf, guard, intFlag, parseFlags } from './args.ts';
import { startDemoSite } from './demo-site.ts';
import { fetchConfig, formatSummary, runFetch } from './fetch.ts';
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK } from './io.ts';
import { formatMs } from './progress.ts';

export const demoUsage = `Usage: switchyard demo [options]

Starts a local site on 127.0.0.1 (four hosts: www, api, flaky, broken) whose pages are slow,
hang, reset connections, answer 5xx in bursts and 429 with Retry-After, send bodies over the
size cap and loop on redirects — then runs switchyard fetch against it and prints the summary.
Fully offline.

Options:
  --urls <n>               URLs to fetch (default 3000)
  --out <path>             keep the results here (default: a temporary file, removed after)
  --concurrency <n>        requests in flight overall (default 64)
  --metrics-port <port>    serve Prometheus metrics during the run
  --quiet                  the summary only
  --debug                  print stack traces of errors
  -h, --help               this help

Exit codes: 0 every URL accounted for; 1 some were not; 2 bad usage; 130 interrupted.`;

const options = {
  urls: { type: 'string' },
  out: { type: 'string' },
  concurrency: { type: 'string' },
  'metrics-port': { type: 'string' },
  quiet: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function main(argv: string[], io: CommandIo): Promise<number> {
  return guard('demo', argv, io, async () => {
    const { values, positionals } = parseFlags('demo', argv, options);
    if (values.help) {
      io.stdout.write(`${demoUsage}\n`);
      return EXIT_OK;
    }
    if (positionals.length > 0) {
      throw new (await import('./io.ts')).UsageError(
        `demo: unexpected argument "${positionals[0]}"`,
      );
    }
    const count = intFlag('demo', 'urls', values.urls, 3000, 1, 1_000_000);
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
    const site = await startDemoSite({ largeBytes: 2 * 1024 * 1024 });
    try {
      const urls = site.urls(count);
      const lines = [
        '# switchyard demo: one URL per line',
        ...urls.slice(0, 10),
        'not a url at all',
        'ftp://127.0.0.1/file.txt',
        ...urls.slice(10),
      ];
      const input = join(dir, 'urls.txt');
      writeFileSync(input, `${lines.join('\n')}\n`);
      const out =
        values.out === undefined ? join(dir, 'results.db') : resolve(cwdOf(io), values.out);
      io.stdout.write(
        `switchyard demo: ${count} URLs (+2 garbage lines) on 4 local hosts — www ${site.bases.www}, api ${site.bases.api}, flaky ${site.bases.flaky}, broken ${site.bases.broken}\n` +
          'faults: slow pages, hung pages, connection resets, 503 bursts, 429 + Retry-After, 2 MiB bodies (cap 1 MiB), redirect loops, a broken host\n',
      );
      const fetchArgs = [
        input,
        '--out',
        out,
        '--overwrite',
        '--concurrency',
        values.concurrency ?? '64',
        '--per-host',
        '16',
        '--rate',
        '1000',
        '--timeout',
        '1000',
        '--retries',
        '2',
        '--max-body',
        '1m',
        '--breaker-ms',
        '1000',
        '--drain-timeout',
        '2000',
        '--progress-interval',
        '1000',
        ...(values['metrics-port'] ? ['--metrics-port', values['metrics-port']] : []),
        ...(values.quiet ? ['--quiet'] : []),
      ];
      const parsed = parseFlags('demo', fetchArgs, {
        out: { type: 'string' },
        overwrite: { type: 'boolean' },
        concurrency: { type: 'string' },
        'per-host': { type: 'string' },
        rate: { type: 'string' },
        timeout: { type: 'string' },
        retries: { type: 'string' },
        'max-body': { type: 'string' },
        'breaker-ms': { type: 'string' },
        'drain-timeout': { type: 'string' },
        'progress-interval': { type: 'string' },
        'metrics-port': { type: 'string' },
        quiet: { type: 'boolean' },
      });
      const config = fetchConfig(parsed.values, parsed.positionals, cwdOf(io));
      const summary = await runFetch(config, io);
      let text = formatSummary(summary);
      if (values.out === undefined) {
        text = text.replace(
          /(\n {2}results +).*/,
          '$1a temporary file (removed; --out <path> keeps it)',
        );
      }
      io.stdout.write(`${text}\n`);
      const accounted = summary.ok + summary.failed + summary.skipped;
      io.stdout.write(
        `\n${accounted} of ${summary.lines} lines accounted for (ok + failed), ${site.requests} requests served, in ${formatMs(summary.durationMs)}\n`,
      );
      if (values.out !== undefined) io.stdout.write(`results kept in ${out}\n`);
      if (summary.interrupted) {
        io.stderr.write('switchyard demo: interrupted\n');
        return EXIT_INTERRUPTED;
      }
      return accounted === summary.lines ? EXIT_OK : EXIT_FAILED;
    } finally {
      await site.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
