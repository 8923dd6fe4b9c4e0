/** What a command may touch of the outside world: injected, so tests can run commands in-process. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Relative paths are resolved against it. */
  cwd: string;
  /** Aborted on SIGINT/SIGTERM by the entry point. */
  signal?: AbortSignal | undefined;
}

/** A usage or input problem: one line on stderr, exit code 2. */
export class UsageError extends Error {
  static {
    UsageError.prototype.name = 'UsageError';
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;
