import { onAbort } from '../cancel/index.ts';
import {
  badSignal,
  DONE,
  type Linked,
  RESOLVED,
  type SignalOptions,
  WAITING,
  type WaiterState,
  WaitList,
} from './internal.ts';

class Waiter implements Linked<Waiter> {
  prev: Waiter | null = null;
  next: Waiter | null = null;
  state: WaiterState = WAITING;
  unsubscribe: (() => void) | null = null;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;

  constructor(resolve: () => void, reject: (reason: unknown) => void) {
    this.resolve = resolve;
    this.reject = reject;
  }
}

/**
 * A flag that tasks can wait for, like asyncio.Event. `set()` wakes every waiter; while set,
 * `wait()` resolves at once (with the same already-resolved promise, so a loop of waits never
 * grows the stack or allocates). `clear()` makes later waits block again.
 */
export class Event {
  #set = false;
  /** One promise shared by every wait without a signal. */
  #shared: Promise<void> | null = null;
  #resolveShared: (() => void) | null = null;
  #sharedWaiting = 0;
  /** Waits with a signal, each cancellable on its own. */
  readonly #waiters = new WaitList<Waiter>();

  /** Whether the flag is set. */
  get isSet(): boolean {
    return this.#set;
  }

  /** Callers currently waiting. */
  get waiting(): number {
    return this.#sharedWaiting + this.#waiters.length;
  }

  /** Sets the flag and wakes every waiter. Setting a set event does nothing. */
  set(): void {
    if (this.#set) return;
    this.#set = true;
    const resolveShared = this.#resolveShared;
    if (resolveShared !== null) {
      this.#shared = null;
      this.#resolveShared = null;
      this.#sharedWaiting = 0;
      resolveShared();
    }
    for (let waiter = this.#waiters.shift(); waiter !== null; waiter = this.#waiters.shift()) {
      waiter.state = DONE;
      waiter.unsubscribe?.();
      waiter.unsubscribe = null;
      waiter.resolve();
    }
  }

  /** Clears the flag: later `wait()` calls block until the next `set()`. */
  clear(): void {
    this.#set = false;
  }

  /**
   * Resolves once the flag is set (at once if it is). Aborting `signal` rejects with
   * `signal.reason`.
   */
  wait(options?: SignalOptions): Promise<void> {
    const signal = options?.signal;
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal)) return Promise.reject(badSignal('Event.wait', signal));
      if (signal.aborted) return Promise.reject(signal.reason);
    }
    if (this.#set) return RESOLVED;
    if (signal === undefined) {
      this.#sharedWaiting++;
      if (this.#shared === null) {
        this.#shared = new Promise<void>((resolve) => {
          this.#resolveShared = resolve;
        });
      }
      return this.#shared;
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = new Waiter(resolve, reject);
      this.#waiters.push(waiter);
      waiter.unsubscribe = onAbort(signal, (reason) => {
        if (waiter.state !== WAITING) return;
        waiter.state = DONE;
        waiter.unsubscribe = null;
        this.#waiters.remove(waiter);
        reject(reason);
      });
    });
  }
}
