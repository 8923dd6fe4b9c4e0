/** Flag parsing shared by the fetch, demo, run and report commands. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type CliIo, EXIT_FAILED, EXIT_USAGE, UsageError } from './io.ts';

/** What a command gets: `CliIo`, plus whether stdout is a terminal (live progress). */
export interface CommandIo extends Partial<Pick<CliIo, 'cwd'>> {
  stdout: CliIo['stdout'];
  stderr: CliIo['stderr'];
  signal?: AbortSignal | undefined;
  /** For `-` inputs. Default: `process.stdin`. */
  stdin?: NodeJS.ReadableStream | undefined;
  /** Default: `stdout.isTTY`. */
  isTTY?: boolean | undefined;
}

export function isTTY(io: CommandIo): boolean {
  if (io.isTTY !== undefined) return io.isTTY;
  return (io.stdout as { isTTY?: boolean }).isTTY === true;
}

export function cwdOf(io: CommandIo): string {
  return io.cwd ?? process.cwd();
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** `util.parseArgs`, strict, its errors turned into one-line `UsageError`s. */
export function parseFlags<const O extends Options>(
  command: string,
  argv: string[],
  options: O,
): ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>> {
  // "--concurrency -3" would be "ambiguous" to parseArgs; join it so the range check can say why.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const option = arg.startsWith('--') ? options[arg.slice(2)] : undefined;
    if (option?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      args.push(`${arg}=${next}`);
      i++;
    } else args.push(arg);
  }
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** An integer flag within [min, max]; `fallback` when absent. */
export function intFlag(
  command: string,
  flag: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    throw new UsageError(`${command}: --${flag} must be an integer ${range}, got "${text}"`);
  }
  return value;
}

/** A non-negative number flag (rates, may be fractional). */
export function numberFlag(
  command: string,
  flag: string,
  text: string | undefined,
  fallback: number,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`${command}: --${flag} must be a number >= 0, got "${text}"`);
  }
  return value;
}

/** A size flag: bytes, or with a k/m/g suffix (1024-based). */
export function sizeFlag(
  command: string,
  flag: string,
  text: string | undefined,
  fallback: number,
): number {
  if (text === undefined) return fallback;
  const match = /^(\d+)\s*([kmg]?)i?b?$/i.exec(text.trim());
  if (match === null) {
    throw new UsageError(
      `${command}: --${flag} must be a size like 1048576, 512k or 8m, got "${text}"`,
    );
  }
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase()] ?? 1;
  return Number(match[1]) * unit;
}

export function stackOf(error: unknown): string {
  if (error !== null && typeof error === 'object' && 'stack' in error) {
    return String((error as { stack: unknown }).stack);
  }
  return String(error);
}

/**
 * Runs a command body: a `UsageError` becomes one line and exit 2, any other error one line and
 * exit 1 — the stack only with `--debug`.
 */
export async function guard(
  command: string,
  argv: string[],
  io: CommandIo,
  body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const prefix = message.startsWith(`${command}:`) ? 'switchyard ' : `switchyard ${command}: `;
    io.stderr.write(`${prefix}${message.split('\n')[0]}\n`);
    if (argv.includes('--debug')) {
      io.stderr.write(`${stackOf(error instanceof UsageError ? (error.cause ?? error) : error)}\n`);
    }
    return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
  }
}
