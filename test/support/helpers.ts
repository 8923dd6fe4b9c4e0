import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach } from 'node:test';

/** A promise with its settle functions outside, for driving tests step by step. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One turn of the event loop (after every pending microtask). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Resolves after `n` event-loop turns (setImmediate hops): a deterministic clock, since
 * everything microtask-driven settles within one turn. Rejects with the reason on abort.
 */
export function turns(n: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let left = n;
    let handle: ReturnType<typeof setImmediate> | undefined;
    const onAbort = () => {
      clearImmediate(handle);
      reject(signal!.reason);
    };
    const step = () => {
      if (--left <= 0) {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      } else {
        handle = setImmediate(step);
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (n === Number.POSITIVE_INFINITY) return;
    handle = setImmediate(step);
  });
}

/** How many timers the process holds right now. */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

/** Fails the running test if any promise rejection goes unhandled during it. */
export function failOnUnhandledRejections(): void {
  const seen: unknown[] = [];
  const record = (reason: unknown) => seen.push(reason);
  beforeEach(() => {
    seen.length = 0;
    process.on('unhandledRejection', record);
  });
  afterEach(async () => {
    await nextTurn();
    process.off('unhandledRejection', record);
    assert.deepEqual(seen, [], 'a promise rejection went unhandled');
  });
}

/** The state of a promise after the microtasks queued so far have run. */
export async function settled<T>(
  promise: Promise<T>,
): Promise<
  { state: 'pending' } | { state: 'fulfilled'; value: T } | { state: 'rejected'; reason: unknown }
> {
  let result:
    | { state: 'pending' }
    | { state: 'fulfilled'; value: T }
    | { state: 'rejected'; reason: unknown } = {
    state: 'pending',
  };
  promise.then(
    (value) => {
      result = { state: 'fulfilled', value };
    },
    (reason: unknown) => {
      result = { state: 'rejected', reason };
    },
  );
  await nextTurn();
  return result;
}

/** How many 'abort' listeners sit on `signal` (onAbort keeps at most one while in use). */
export function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

/** The number of frames on the current stack, whatever Error.stackTraceLimit says. */
export function stackDepth(): number {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = Number.POSITIVE_INFINITY;
  try {
    return (new Error().stack ?? '').split('\n').length;
  } finally {
    Error.stackTraceLimit = limit;
  }
}
