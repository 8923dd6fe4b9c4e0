import { safeCall } from './internal.ts';

/** What subscribing to a policy event returns: call `dispose()` (or `using`) to unsubscribe. */
export interface Subscription extends Disposable {
  dispose(): void;
}

/**
 * A typed policy event, cockatiel-style: call it with a listener to subscribe.
 *
 * @example
 * using _ = breaker.onStateChange(({ from, to }) => log(from, '→', to));
 */
export type PolicyEvent<T> = (listener: (event: T) => void) => Subscription;

/**
 * The emitter behind one `PolicyEvent`. A listener that throws does not stop the others or the
 * policy; its error surfaces as an uncaught exception (the EventTarget contract).
 */
export class Emitter<T> {
  #listeners: ((event: T) => void)[] = [];

  /** Whether anyone listens: policies skip building event objects otherwise. */
  get active(): boolean {
    return this.#listeners.length !== 0;
  }

  readonly event: PolicyEvent<T> = (listener) => {
    if (typeof listener !== 'function') {
      throw new TypeError(`listener must be a function, got ${typeof listener}`);
    }
    // Copy on write, so an emit in progress is not disturbed by (un)subscribing.
    this.#listeners = [...this.#listeners, listener];
    let done = false;
    const dispose = () => {
      if (done) return;
      done = true;
      const at = this.#listeners.indexOf(listener);
      if (at !== -1) this.#listeners = this.#listeners.toSpliced(at, 1);
    };
    return { dispose, [Symbol.dispose]: dispose };
  };

  emit(event: T): void {
    for (const listener of this.#listeners) safeCall(listener, event);
  }
}
