import { getEventListeners } from 'node:events';

/** The fixture module every pool test runs tasks from. */
export const tasks = new URL('./fixtures/tasks.ts', import.meta.url);
export type Tasks = typeof import('./fixtures/tasks.ts');

/** How many 'abort' listeners sit on a signal (onAbort keeps at most one per signal). */
export function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

/** Rejects after `ms` with a message: a generous bound so a hang fails instead of stalling. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Settles with a tag instead of a value, so tests can check that something is still pending. */
export async function isPending(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  const first = await Promise.race([
    promise.then(
      () => 'settled',
      () => 'settled',
    ),
    new Promise((resolve) => setImmediate(() => resolve(marker))),
  ]);
  return first === marker;
}

/** Resolves once `predicate()` holds, checking every few ms; rejects after `ms`. */
export async function until(predicate: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
