import { onAbort } from '../cancel/index.ts';
import {
  badSignal,
  DONE,
  type Linked,
  type SignalOptions,
  WAITING,
  type WaiterState,
  WaitList,
} from './internal.ts';
import { Lock, type Permit } from './semaphore.ts';

class Waiter implements Linked<Waiter> {
  prev: Waiter | null = null;
  next: Waiter | null = null;
  state: WaiterState = WAITING;
  unsubscribe: (() => void) | null = null;
  resolve: () => void = noop;
  reject: (reason: unknown) => void = noop;
}

const noop = () => {};

/**
 * A condition variable, like asyncio.Condition: a lock plus a queue of tasks waiting to be
 * notified. `wait()`, `notify()` and `notifyAll()` need the lock held — JavaScript has no task
 * identity, so "held" means held by someone; hold it yourself (`run()`, `acquire()`).
 */
export class Condition {
  /** The lock this condition uses; pass one to share it between conditions. */
  readonly lock: Lock;
  readonly #waiters = new WaitList<Waiter>();

  constructor(lock: Lock = new Lock()) {
    if (!(lock instanceof Lock)) {
      throw new TypeError(`Condition: lock must be a Lock, got ${typeof lock}`);
    }
    this.lock = lock;
  }

  /** Whether the underlying lock is held. */
  get locked(): boolean {
    return this.lock.locked;
  }

  /** Tasks waiting to be notified. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Acquires the underlying lock. */
  acquire(options?: SignalOptions): Promise<Permit> {
    return this.lock.acquire(options);
  }

  /** Releases the underlying lock. */
  release(): void {
    this.lock.release();
  }

  /** Runs `fn` holding the underlying lock. */
  run<T>(fn: () => T | PromiseLike<T>, options?: SignalOptions): Promise<T> {
    return this.lock.run(fn, options);
  }

  /**
   * Releases the lock, waits for a notification, re-acquires the lock, resolves. The lock is
   * re-acquired before settling in every case, also when `signal` aborts (then it rejects with
   * `signal.reason`, holding the lock). A notification that lands on a wait being cancelled is
   * passed on to the next waiter, so none is lost (a spurious wake-up is possible, as in
   * Python: loop on your predicate, or use `waitFor`).
   */
  async wait(options?: SignalOptions): Promise<void> {
    const signal = options?.signal;
    this.#checkHeld('wait');
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal)) throw badSignal('Condition.wait', signal);
      signal.throwIfAborted();
    }
    const waiter = new Waiter();
    const notified = new Promise<void>((resolve, reject) => {
      waiter.resolve = resolve;
      waiter.reject = reject;
    });
    this.#waiters.push(waiter);
    if (signal !== undefined) {
      waiter.unsubscribe = onAbort(signal, (reason) => {
        if (waiter.state !== WAITING) return;
        waiter.state = DONE;
        waiter.unsubscribe = null;
        this.#waiters.remove(waiter);
        waiter.reject(reason);
      });
    }
    this.lock.release();
    let wasNotified = false;
    try {
      await notified;
      wasNotified = true;
    } catch {
      // Only the abort rejects `notified`; its reason is rethrown below.
    }
    // Re-acquire without the signal: the caller must hold the lock whatever happened.
    await this.lock.acquire();
    if (signal?.aborted) {
      if (wasNotified) this.#notify(1);
      throw signal.reason;
    }
  }

  /**
   * Waits until `predicate()` returns a truthy value, checking it under the lock before the
   * first wait and after every wake-up; resolves with that value.
   */
  async waitFor<T>(predicate: () => T, options?: SignalOptions): Promise<T> {
    this.#checkHeld('waitFor');
    if (typeof predicate !== 'function') {
      throw new TypeError(
        `Condition.waitFor: predicate must be a function, got ${typeof predicate}`,
      );
    }
    let result = predicate();
    while (!result) {
      await this.wait(options);
      result = predicate();
    }
    return result;
  }

  /** Wakes up to `n` waiters (default 1), in the order they started waiting. */
  notify(n = 1): void {
    this.#checkHeld('notify');
    if (typeof n !== 'number' || Number.isNaN(n) || n < 0) {
      throw new RangeError(`Condition.notify: n must be a number >= 0, got ${String(n)}`);
    }
    this.#notify(n);
  }

  /** Wakes every waiter. */
  notifyAll(): void {
    this.#checkHeld('notifyAll');
    this.#notify(this.#waiters.length);
  }

  #notify(n: number): void {
    for (let woken = 0; woken < n; woken++) {
      const waiter = this.#waiters.shift();
      if (waiter === null) return;
      waiter.state = DONE;
      waiter.unsubscribe?.();
      waiter.unsubscribe = null;
      waiter.resolve();
    }
  }

  #checkHeld(method: string): void {
    if (!this.lock.locked) {
      throw new Error(
        `Condition.${method}: the lock is not held; acquire it first (await condition.acquire(), or inside condition.run(fn))`,
      );
    }
  }
}
