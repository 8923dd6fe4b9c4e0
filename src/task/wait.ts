import { onAbort } from '../cancel/on-abort.ts';
import { durationError, signalError } from '../cancel/options.ts';

export type ReturnWhen = 'FIRST_COMPLETED' | 'FIRST_EXCEPTION' | 'ALL_COMPLETED';

export interface WaitOptions {
  /** When to resolve. Default `'ALL_COMPLETED'`. */
  returnWhen?: ReturnWhen | undefined;
  /** Resolve with what is done so far after this many ms; the pending keep running. */
  timeout?: number | undefined;
  /** Aborting rejects with the reason; the items keep running (wait never cancels them). */
  signal?: AbortSignal | undefined;
}

export interface WaitResult<P> {
  done: Set<P>;
  pending: Set<P>;
}

const RETURN_WHEN: readonly ReturnWhen[] = ['FIRST_COMPLETED', 'FIRST_EXCEPTION', 'ALL_COMPLETED'];

/**
 * asyncio's `wait`: resolves with `{ done, pending }`, Sets of the very objects passed in
 * (promises or tasks), once `returnWhen` holds or the timeout passes. It only watches: it
 * neither cancels the pending nor rethrows failures (inspect `done` for those). Watching
 * marks every rejection as handled.
 */
export function wait<P extends PromiseLike<unknown>>(
  items: Iterable<P>,
  options: WaitOptions = {},
): Promise<WaitResult<P>> {
  const { returnWhen = 'ALL_COMPLETED', timeout, signal } = options;
  const invalid =
    signalError('wait', signal) ??
    (RETURN_WHEN.includes(returnWhen)
      ? undefined
      : new TypeError(
          `wait: returnWhen must be one of ${RETURN_WHEN.join(', ')}, got ${String(returnWhen)}`,
        )) ??
    (timeout === undefined
      ? undefined
      : durationError('wait', 'timeout', timeout, { allowInfinity: true }));
  if (invalid) return Promise.reject(invalid);
  if (signal?.aborted) return Promise.reject(signal.reason);

  const pending = new Set(items);
  const done = new Set<P>();
  if (pending.size === 0) return Promise.resolve({ done, pending });

  return new Promise<WaitResult<P>>((resolve, reject) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unsubscribe: (() => void) | undefined;
    const finish = () => {
      settled = true;
      clearTimeout(timer);
      unsubscribe?.();
      resolve({ done: new Set(done), pending: new Set(pending) });
    };
    const settle = (item: P, failed: boolean) => {
      if (settled) return;
      pending.delete(item);
      done.add(item);
      if (
        pending.size === 0 ||
        returnWhen === 'FIRST_COMPLETED' ||
        (returnWhen === 'FIRST_EXCEPTION' && failed)
      ) {
        finish();
      }
    };
    for (const item of pending) {
      Promise.resolve(item).then(
        () => settle(item, false),
        () => settle(item, true),
      );
    }
    if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY)
      timer = setTimeout(finish, timeout);
    if (signal) {
      unsubscribe = onAbort(signal, (reason) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(reason);
      });
    }
  });
}
