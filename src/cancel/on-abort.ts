/**
 * One real 'abort' listener per signal, fanning out to our own set of callbacks.
 *
 * Why not `signal.addEventListener` per waiter: Node prints a MaxListenersExceededWarning once
 * eleven listeners sit on one signal (a long-lived shutdown signal shared by thousands of
 * waits does exactly that), and EventTarget listeners cost more to add and remove than a Set.
 * Why not `AbortSignal.any`: on Node 20 it leaks (nodejs/node#48419).
 */
export type AbortCallback = (reason: unknown) => void;

const callbacksBySignal = new WeakMap<AbortSignal, Set<AbortCallback>>();

function dispatch(this: AbortSignal): void {
  const callbacks = callbacksBySignal.get(this);
  if (callbacks === undefined) return;
  callbacksBySignal.delete(this);
  const reason = this.reason;
  for (const callback of callbacks) {
    try {
      callback(reason);
    } catch (error) {
      // Same contract as an EventTarget listener: one failing callback doesn't stop the
      // others, and its error surfaces as an uncaught exception rather than vanishing.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

/**
 * Calls `callback(signal.reason)` once when `signal` aborts. Returns the function that
 * unsubscribes; call it in a `finally` so nothing outlives the wait it served.
 * The caller checks `signal.aborted` first: an already-aborted signal never fires again.
 */
export function onAbort(signal: AbortSignal, callback: AbortCallback): () => void {
  let callbacks = callbacksBySignal.get(signal);
  if (callbacks === undefined) {
    callbacks = new Set();
    callbacksBySignal.set(signal, callbacks);
    signal.addEventListener('abort', dispatch, { once: true });
  }
  callbacks.add(callback);
  const own = callbacks;
  return () => {
    if (!own.delete(callback) || own.size > 0) return;
    if (callbacksBySignal.get(signal) === own) {
      callbacksBySignal.delete(signal);
      signal.removeEventListener('abort', dispatch);
    }
  };
}

/** Whether `error` is the rejection that aborting `signal` caused. */
export function isAbortOf(error: unknown, signal: AbortSignal): boolean {
  if (!signal.aborted) return false;
  const reason: unknown = signal.reason;
  if (error === reason) return true;
  // Node core (timers/promises, fs, events.once, child_process) rejects with an AbortError
  // whose `cause` is the reason; older libraries throw a bare AbortError.
  return (
    error instanceof Error &&
    error.name === 'AbortError' &&
    (error.cause === undefined || error.cause === reason)
  );
}
