/**
 * `switchyard advise <module>#<export> [--args json] [--runs n] [--warmup n] [--timeout ms]
 * [--max-memory mb] [--fail-if-blocked ms] [--json] [--debug]`
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AdviseCallError, AdviseLoadError, advise, formatAdvice } from '../advise/index.ts';
import { stackOf } from './args.ts';
import { type CliIo, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError } from './io.ts';

export const adviseUsage = `Usage: switchyard advise <module>#<export> [options]

Runs the exported function in a fresh child process, measures each call (wall time, CPU time,
the longest stretch it blocks the event loop, loop utilisation, clone cost of its arguments and
result, retained memory) and recommends a lane: loop, thread or process.

Options:
  --args <json>            arguments: a JSON array (another JSON value is the only argument)
  --runs <n>               measured calls (default 10)
  --warmup <n>             calls before those, not summarised (default 2)
  --timeout <ms>           a call longer than this is a hang (default 10000)
  --max-memory <mb>        heap limit of the measuring process (default 1024)
  --concurrency <n>        calls in flight the event-loop estimate assumes (default 64)
  --fail-if-blocked <ms>   exit 1 when the median blocking stretch exceeds this (for CI)
  --json                   print the report as JSON (schema: docs/advise.md)
  --debug                  print stack traces of errors
  -h, --help               this help

Exit codes: 0 measured; 1 the function threw, or --fail-if-blocked was exceeded;
2 bad usage or input; 130 interrupted.`;

const options = {
  args: { type: 'string' },
  runs: { type: 'string' },
  warmup: { type: 'string' },
  timeout: { type: 'string' },
  'max-memory': { type: 'string' },
  concurrency: { type: 'string' },
  'fail-if-blocked': { type: 'string' },
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function adviseCommand(argv: string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`advise: ${(error as Error).message.split('\n')[0]}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(`${adviseUsage}\n`);
    return EXIT_OK;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'advise: expected <module>#<export>, e.g. switchyard advise ./hash.ts#hashPassword'
        : `advise: expected one <module>#<export>, got ${positionals.length}: ${positionals.join(' ')}`,
    );
  }
  const { url, exportName } = target(positionals[0]!, io.cwd);
  const args = parseJsonArgs(values.args);
  const runs = integer('--runs', values.runs, 1);
  const warmup = integer('--warmup', values.warmup, 0);
  const timeoutMs = integer('--timeout', values.timeout, 1);
  const maxMemoryMb = integer('--max-memory', values['max-memory'], 16);
  const concurrency = integer('--concurrency', values.concurrency, 1);
  const failIfBlocked = number('--fail-if-blocked', values['fail-if-blocked']);

  let report: Awaited<ReturnType<typeof advise>>;
  try {
    report = await advise(url, exportName, args, {
      runs,
      warmup,
      timeoutMs,
      maxMemoryMb,
      concurrency,
      signal: io.signal,
    });
  } catch (error) {
    if (io.signal?.aborted && error === io.signal.reason) {
      io.stderr.write('switchyard advise: interrupted\n');
      return EXIT_INTERRUPTED;
    }
    if (error instanceof AdviseLoadError) throw new UsageError(error.message, { cause: error });
    if (error instanceof AdviseCallError) {
      io.stderr.write(`switchyard ${error.message.replace(/^advise: /, 'advise: ')}\n`);
      if (values.debug) io.stderr.write(`${stackOf(error.cause)}\n`);
      return EXIT_FAILED;
    }
    if (error instanceof TypeError || error instanceof RangeError) {
      throw new UsageError(error.message, { cause: error });
    }
    throw error;
  }
  io.stdout.write(
    values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatAdvice(report)}\n`,
  );
  if (failIfBlocked !== undefined) {
    const blocked = report.calls?.blockedMs.median;
    if (blocked === undefined || blocked > failIfBlocked) {
      io.stderr.write(
        `switchyard advise: ${blocked === undefined ? `no call completed (${report.outcome})` : `blocks the loop for ${blocked.toFixed(1)} ms per call (median), over --fail-if-blocked ${failIfBlocked}`}\n`,
      );
      return EXIT_FAILED;
    }
  }
  return EXIT_OK;
}

function target(spec: string, cwd: string): { url: URL; exportName: string } {
  const hash = spec.lastIndexOf('#');
  const where = hash === -1 ? spec : spec.slice(0, hash);
  const exportName = hash === -1 ? 'default' : spec.slice(hash + 1);
  if (where === '')
    throw new UsageError(`advise: no module in "${spec}"; expected <module>#<export>`);
  if (exportName === '') {
    throw new UsageError(`advise: no export after "#" in "${spec}"; expected <module>#<export>`);
  }
  let url: URL;
  if (/^[a-z][a-z0-9+.-]+:/i.test(where)) {
    try {
      url = new URL(where);
    } catch {
      throw new UsageError(`advise: "${where}" is not a valid URL`);
    }
  } else {
    url = pathToFileURL(isAbsolute(where) ? where : resolve(cwd, where));
  }
  if (url.protocol === 'file:' && !existsSync(url)) {
    throw new UsageError(`advise: no such module: ${where}`);
  }
  return { url, exportName };
}

function parseJsonArgs(text: string | undefined): unknown[] {
  if (text === undefined) return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`advise: --args is not valid JSON: ${(error as Error).message}`);
  }
  return Array.isArray(value) ? value : [value];
}

function integer(flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new UsageError(`advise: ${flag} must be an integer >= ${min}, got "${text}"`);
  }
  return value;
}

function number(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    throw new UsageError(`advise: ${flag} must be a number >= 0, got "${text}"`);
  }
  return value;
}
