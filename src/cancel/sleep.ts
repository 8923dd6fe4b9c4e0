import { onAbort } from './on-abort.ts';
import { durationError, signalError } from './options.ts';

export interface SleepOptions {
  /** Aborting rejects the sleep with `signal.reason` and clears its timer. */
  signal?: AbortSignal | undefined;
}

/**
 * Resolves after `ms` milliseconds. Unlike `timers/promises`, an abort rejects with
 * `signal.reason` itself, not an AbortError wrapping it.
 */
export function sleep(ms: number, options: SleepOptions = {}): Promise<void> {
  const { signal } = options;
  const invalid =
    durationError('sleep', 'ms', ms, { allowInfinity: true }) ?? signalError('sleep', signal);
  if (invalid) return Promise.reject(invalid);
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    let unsubscribe: (() => void) | undefined;
    const timer =
      ms === Number.POSITIVE_INFINITY
        ? undefined
        : setTimeout(() => {
            unsubscribe?.();
            resolve();
          }, ms);
    if (signal) {
      unsubscribe = onAbort(signal, (reason) => {
        clearTimeout(timer);
        reject(reason);
      });
    }
  });
}
