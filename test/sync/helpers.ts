import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { after } from 'node:test';

/** Lets every queued microtask (and the promise reactions they queue) run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
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
  await tick();
  return result;
}

/** How many 'abort' listeners sit on `signal` (onAbort keeps at most one while in use). */
export function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

/** Fails the test file on any unhandled rejection, however late it surfaces. */
export function failOnUnhandledRejections(): void {
  const seen: unknown[] = [];
  const record = (reason: unknown) => {
    seen.push(reason);
    process.exitCode = 1;
  };
  process.on('unhandledRejection', record);
  after(async () => {
    await tick();
    process.off('unhandledRejection', record);
    assert.deepEqual(seen, [], 'no promise rejection may go unhandled');
  });
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
