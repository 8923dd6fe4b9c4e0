/**
 * The `switchyard` command: dispatch to subcommands. `main()` returns the exit code; only the
 * entry point (bin/switchyard.js) sets it. Errors become one line on stderr (the stack only
 * with --debug): exit 2 for bad usage or input, 1 otherwise.
 */
import { readFileSync } from 'node:fs';
import { stackOf } from './args.ts';
import { type CliIo, EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from './io.ts';

export type { CliIo } from './io.ts';

type Command = (argv: string[], io: CliIo) => Promise<number>;

/**
 * Each command's module is loaded when it runs: loading every command's modules (and their
 * dependencies) for any one of them cost ~50 ms of start-up CPU.
 */
const commands: Record<string, { load: () => Promise<Command>; summary: string }> = {
  fetch: {
    load: async () => (await import('./fetch.ts')).main,
    summary: 'fetch → parse → store a list of URLs (SQLite or JSON Lines)',
  },
  demo: {
    load: async () => (await import('./demo.ts')).main,
    summary: 'run fetch against a local site full of faults (offline)',
  },
  run: {
    load: async () => (await import('./run.ts')).main,
    summary: 'run a pipeline module with progress, metrics, journal and Ctrl-C',
  },
  report: {
    load: async () => (await import('./report.ts')).main,
    summary: 'a self-contained HTML report of a fetch results database',
  },
  advise: {
    load: async () => (await import('./advise.ts')).adviseCommand,
    summary: 'measure a function and recommend a lane: loop, thread or process',
  },
};

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function usage(): string {
  const lines = [
    `switchyard ${version()}`,
    '',
    'Usage: switchyard <command> [options]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`),
    '',
    'Run switchyard <command> --help for its options.',
  ];
  return lines.join('\n');
}

export async function main(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() },
): Promise<number> {
  const [command, ...rest] = argv;
  const debug = argv.includes('--debug');
  if (command === '--version' || command === '-v') {
    io.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(`${usage()}\n`);
    return EXIT_OK;
  }
  const entry = commands[command];
  if (entry === undefined) {
    io.stderr.write(`switchyard: unknown command "${command}"; run switchyard --help\n`);
    return EXIT_USAGE;
  }
  try {
    return await (await entry.load())(rest, io);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`switchyard ${message.split('\n')[0]}\n`);
    if (debug)
      io.stderr.write(`${stackOf(error instanceof UsageError ? (error.cause ?? error) : error)}\n`);
    return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
  }
}
