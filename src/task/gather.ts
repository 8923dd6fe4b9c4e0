import { CancelledError } from '../cancel/errors.ts';
import { onAbort } from '../cancel/on-abort.ts';
import { signalError } from '../cancel/options.ts';
import { type Awaitable, type AwaitedItem, startItem } from './items.ts';

export interface GatherOptions {
  /** Aborting rejects the gather with the reason and aborts the factories' signal. */
  signal?: AbortSignal | undefined;
  /**
   * asyncio's `return_exceptions`: a rejection becomes its error in the results instead of
   * rejecting the call. Default false.
   */
  returnExceptions?: boolean | undefined;
}

type Results<I extends readonly unknown[]> = { -readonly [K in keyof I]: AwaitedItem<I[K]> };
// Rejections are almost always Errors; one that is not comes through as thrown.
type Settled<I extends readonly unknown[]> = {
  -readonly [K in keyof I]: AwaitedItem<I[K]> | Error;
};

const noop = () => {};

/**
 * Waits for every item and resolves with their values in input order (asyncio's `gather`).
 * Items are promises or factories `(signal) => …`; factories start at once with one shared
 * signal. Without `returnExceptions`, the first rejection rejects the call and aborts that
 * signal, so the factories still running are told to stop (promises cannot be).
 */
export function gather<const I extends readonly Awaitable<unknown>[]>(
  items: I,
  options?: GatherOptions & { returnExceptions?: false | undefined },
): Promise<Results<I>>;
export function gather<const I extends readonly Awaitable<unknown>[]>(
  items: I,
  options: GatherOptions & { returnExceptions: true },
): Promise<Settled<I>>;
export function gather(
  items: readonly Awaitable<unknown>[],
  options: GatherOptions = {},
): Promise<unknown[]> {
  const { signal, returnExceptions = false } = options;
  const invalid =
    signalError('gather', signal) ??
    (Array.isArray(items) ? undefined : new TypeError('gather: items must be an array'));
  if (invalid) return Promise.reject(invalid);
  if (signal?.aborted) return Promise.reject(signal.reason);

  return new Promise<unknown[]>((resolve, reject) => {
    const count = items.length;
    const results = new Array<unknown>(count);
    let remaining = count;
    let settled = false;
    let controller: AbortController | undefined;
    const factorySignal = () => {
      controller ??= new AbortController();
      return controller.signal;
    };
    const unsubscribe = signal ? onAbort(signal, (reason) => fail(reason, reason)) : noop;

    function fail(error: unknown, abortReason: unknown): void {
      if (settled) return;
      settled = true;
      unsubscribe();
      controller?.abort(abortReason);
      reject(error);
    }
    function record(index: number, value: unknown): void {
      results[index] = value;
      if (--remaining === 0 && !settled) {
        settled = true;
        unsubscribe();
        resolve(results);
      }
    }

    for (let index = 0; index < count && !settled; index++) {
      startItem(items[index], factorySignal).then(
        (value) => record(index, value),
        (error) => {
          if (returnExceptions) record(index, error);
          else fail(error, new CancelledError('gather: another item failed', { cause: error }));
        },
      );
    }
    if (count === 0) {
      settled = true;
      unsubscribe();
      resolve(results);
    }
  });
}
