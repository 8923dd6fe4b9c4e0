import { onAbort } from '../cancel/index.ts';
import {
  badSignal,
  checkCount,
  DONE,
  type Linked,
  PENDING,
  type SignalOptions,
  WAITING,
  type WaiterState,
  WaitList,
} from './internal.ts';

/** Anything a `Permit` can give back. */
interface Releasable {
  release(): void;
}

/**
 * One acquired permit (or a held Lock). `release()` gives it back once; calling it again is a
 * no-op, so `using permit = await sem.acquire()` stays safe after a manual release.
 * `permit instanceof Permit` holds for every permit `acquire()` / `tryAcquire()` hand out.
 */
export interface Permit extends Disposable {
  /** Whether this permit was already given back. */
  readonly released: boolean;
  /** Gives the permit back. Idempotent: only the first call releases. */
  release(): void;
}

/**
 * A permit is a plain object, not a class instance, on purpose: for an object whose prototype
 * is `Object.prototype`, V8's optimizing compiler proves that it has no `then` and fulfils
 * `Promise.resolve(permit)` directly; for any class instance (measured on Node 20, even an
 * empty class) it calls the generic `then` lookup and promise resolution builtins instead,
 * which cost about a third of an uncontended `await sem.acquire()` (callgrind: ~300 of ~1,100
 * instructions per acquire + release). `owner` is internal: use `release()`.
 */
interface PermitRecord extends Permit {
  owner: Releasable | null;
  released: boolean;
}

function releasePermit(this: PermitRecord): void {
  const owner = this.owner;
  if (owner === null) return;
  this.owner = null;
  this.released = true;
  owner.release();
}

function newPermit(owner: Releasable): Permit {
  const permit: PermitRecord = {
    owner,
    released: false,
    release: releasePermit,
    [Symbol.dispose]: releasePermit,
  };
  return permit;
}

/** `permit instanceof Permit`: whether `value` is a permit handed out by this module. */
export const Permit: { [Symbol.hasInstance](value: unknown): value is Permit } = {
  [Symbol.hasInstance](value: unknown): value is Permit {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as { release?: unknown }).release === releasePermit
    );
  },
};

/** A snapshot of a semaphore's state and counters, for metrics. */
export interface SemaphoreStats {
  /** The initial number of permits. */
  permits: number;
  /** Permits free right now. */
  available: number;
  /** Callers queued for a permit. */
  waiting: number;
  /** Permits granted since creation (immediately or after waiting). */
  acquiredTotal: number;
  /** Waits that were cancelled by their signal. */
  cancelledTotal: number;
}

type Work<T> = () => T | PromiseLike<T>;

/**
 * A queued acquire. `fn` is set for `run()`: the grant then starts the work directly, with no
 * intermediate Permit or promise.
 */
class Waiter implements Linked<Waiter> {
  prev: Waiter | null = null;
  next: Waiter | null = null;
  state: WaiterState = WAITING;
  unsubscribe: (() => void) | null = null;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly fn: Work<unknown> | null;

  constructor(
    resolve: (value: unknown) => void,
    reject: (reason: unknown) => void,
    signal: AbortSignal | undefined,
    fn: Work<unknown> | null,
  ) {
    this.resolve = resolve;
    this.reject = reject;
    this.signal = signal;
    this.fn = fn;
  }
}

/**
 * One executor for every waiting promise: it parks the settle functions here, where the caller
 * picks them up right after `new Promise(capture)` — no closure allocated per wait.
 */
const captured: { resolve: (value: unknown) => void; reject: (reason: unknown) => void } = {
  resolve: () => {},
  reject: () => {},
};
function capture(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  captured.resolve = resolve;
  captured.reject = reject;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value instanceof Promise ||
    (value !== null &&
      (typeof value === 'object' || typeof value === 'function') &&
      typeof (value as { then?: unknown }).then === 'function')
  );
}

/**
 * A counting semaphore, FIFO-fair and cancellation-safe.
 *
 * Invariants (outside a `release()` in progress):
 * - `available > 0` implies nobody is waiting: a release hands its permit straight to the
 *   first waiter, and that permit is never counted in `available`.
 * - a waiter cancelled by its signal never holds a permit. A waiter with a signal that is
 *   granted a permit keeps it *pending* until the end of the current microtask; if its signal
 *   aborts in between (the grant and the abort landing in the same tick), the acquire rejects
 *   and the permit goes on to the next waiter, or back to `available`.
 * - `tryAcquire()` never takes a permit while others wait.
 */
export class Semaphore {
  readonly #permits: number;
  #available: number;
  readonly #waiters = new WaitList<Waiter>();
  #pending: Waiter[] = [];
  #flushQueued = false;
  #draining = false;
  #acquiredTotal = 0;
  #cancelledTotal = 0;

  /** `permits` (default 1): how many holders at once; 0 starts with none free. */
  constructor(permits = 1) {
    this.#permits = checkCount(new.target.name, 'permits', permits, 0);
    this.#available = permits;
  }

  /** The initial number of permits. */
  get permits(): number {
    return this.#permits;
  }

  /** Permits free right now (a permit handed straight to a waiter is not counted). */
  get available(): number {
    return this.#available;
  }

  /** Callers queued for a permit. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Takes a permit if one is free and nobody is waiting for one; otherwise returns
   * `undefined` without waiting.
   */
  tryAcquire(): Permit | undefined {
    if (this.#available === 0 || this.#waiters.length !== 0) return undefined;
    this.#available--;
    this.#acquiredTotal++;
    return newPermit(this);
  }

  /**
   * Waits for a permit, in arrival order. Aborting `signal` rejects with `signal.reason` and
   * leaves the semaphore as if this call had never been made.
   */
  acquire(options?: SignalOptions): Promise<Permit> {
    const signal = options?.signal;
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal)) {
        return Promise.reject(badSignal(`${this.constructor.name}.acquire`, signal));
      }
      if (signal.aborted) return Promise.reject(signal.reason);
    }
    if (this.#available !== 0 && this.#waiters.length === 0) {
      this.#available--;
      this.#acquiredTotal++;
      return Promise.resolve(newPermit(this));
    }
    return this.#wait(signal, null) as Promise<Permit>;
  }

  /**
   * Runs `fn` holding a permit and releases it when `fn` settles; resolves or rejects as `fn`
   * does. `signal` bounds only the wait for the permit: once `fn` starts, cancelling it is up
   * to `fn` (close over the signal you want it to see).
   */
  run<T>(fn: Work<T>, options?: SignalOptions): Promise<T> {
    const signal = options?.signal;
    if (typeof fn !== 'function') {
      return Promise.reject(
        new TypeError(`${this.constructor.name}.run: fn must be a function, got ${typeof fn}`),
      );
    }
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal)) {
        return Promise.reject(badSignal(`${this.constructor.name}.run`, signal));
      }
      if (signal.aborted) return Promise.reject(signal.reason);
    }
    if (this.#available !== 0 && this.#waiters.length === 0) {
      this.#available--;
      this.#acquiredTotal++;
      return this.#start(fn);
    }
    return this.#wait(signal, fn) as Promise<T>;
  }

  /**
   * Gives a permit back: to the first waiter if there is one, otherwise to `available`.
   * A plain Semaphore (like Python's) lets `available` grow past `permits`; use
   * `BoundedSemaphore` to catch a release without a matching acquire.
   */
  release(): void {
    this.#release();
  }

  /** A snapshot of the state and counters. */
  stats(): SemaphoreStats {
    return {
      permits: this.#permits,
      available: this.#available,
      waiting: this.#waiters.length,
      acquiredTotal: this.#acquiredTotal,
      cancelledTotal: this.#cancelledTotal,
    };
  }

  /** Releases that `run()` does itself: always matched by its own acquire. */
  readonly #release = (): void => {
    this.#available++;
    if (this.#waiters.head !== null && !this.#draining) this.#drain();
  };

  /**
   * Hands free permits to waiters. A loop, not recursion: a granted `run()` whose work
   * finishes synchronously releases re-entrantly, which only bumps `available` here.
   */
  #drain(): void {
    this.#draining = true;
    try {
      while (this.#available !== 0 && this.#waiters.head !== null) {
        const waiter = this.#waiters.shift()!;
        this.#available--;
        if (waiter.signal === undefined) {
          this.#commit(waiter);
        } else {
          waiter.state = PENDING;
          this.#pending.push(waiter);
          if (!this.#flushQueued) {
            this.#flushQueued = true;
            queueMicrotask(this.#flush);
          }
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  /** Commits the grants still pending at the end of the microtask they were made in. */
  readonly #flush = (): void => {
    this.#flushQueued = false;
    const pending = this.#pending;
    this.#pending = [];
    for (const waiter of pending) {
      if (waiter.state === PENDING) this.#commit(waiter);
    }
  };

  #commit(waiter: Waiter): void {
    waiter.state = DONE;
    const unsubscribe = waiter.unsubscribe;
    if (unsubscribe !== null) {
      waiter.unsubscribe = null;
      unsubscribe();
    }
    this.#acquiredTotal++;
    const fn = waiter.fn;
    if (fn === null) waiter.resolve(newPermit(this));
    else this.#startFor(waiter, fn);
  }

  /** `#start` for a queued `run()`: settles the waiter's promise without adopting another. */
  #startFor(waiter: Waiter, fn: Work<unknown>): void {
    let result: unknown;
    try {
      result = fn();
    } catch (error) {
      this.#release();
      waiter.reject(error);
      return;
    }
    if (isThenable(result)) {
      const release = this.#release;
      result.then(
        (value) => {
          release();
          waiter.resolve(value);
        },
        (error: unknown) => {
          release();
          waiter.reject(error);
        },
      );
      return;
    }
    this.#release();
    waiter.resolve(result);
  }

  /** Starts `fn` under a permit already taken; never throws. */
  #start<T>(fn: Work<T>): Promise<T> {
    let result: T | PromiseLike<T>;
    try {
      result = fn();
    } catch (error) {
      this.#release();
      return Promise.reject(error);
    }
    if (isThenable(result)) {
      // Registered before anyone else can await `result`, so the permit is back before the
      // caller's continuation runs. The derived promise always fulfils: nothing unhandled.
      result.then(this.#release, this.#release);
      return result instanceof Promise ? result : Promise.resolve(result);
    }
    this.#release();
    return Promise.resolve(result);
  }

  #wait(signal: AbortSignal | undefined, fn: Work<unknown> | null): Promise<unknown> {
    const promise = new Promise(capture);
    const waiter = new Waiter(captured.resolve, captured.reject, signal, fn);
    this.#waiters.push(waiter);
    if (signal !== undefined) {
      waiter.unsubscribe = onAbort(signal, (reason) => this.#cancel(waiter, reason));
    }
    return promise;
  }

  #cancel(waiter: Waiter, reason: unknown): void {
    const state = waiter.state;
    if (state === DONE) return;
    waiter.state = DONE;
    waiter.unsubscribe = null;
    this.#cancelledTotal++;
    if (state === WAITING) {
      this.#waiters.remove(waiter);
    } else {
      // Granted in this same tick but not committed: hand the permit on.
      this.#release();
    }
    waiter.reject(reason);
  }
}

/**
 * A Semaphore that throws when released more times than it was acquired, so a double release
 * is a loud bug rather than a silently raised limit.
 */
export class BoundedSemaphore extends Semaphore {
  override release(): void {
    if (this.available >= this.permits) {
      throw new Error(
        `BoundedSemaphore.release: released more times than acquired (${this.available} of ${this.permits} permits already available); release each permit exactly once, or use Permit.release() / \`using\`, which are idempotent`,
      );
    }
    super.release();
  }
}

/**
 * A mutual-exclusion lock: a FIFO-fair, cancellation-safe semaphore with one permit.
 * JavaScript has no thread identity, so "the holder" is whoever has the permit: `release()`
 * throws when the lock is not held at all.
 */
export class Lock extends Semaphore {
  constructor() {
    super(1);
  }

  /** Whether someone holds the lock (including a hand-over to a waiter in progress). */
  get locked(): boolean {
    return this.available === 0;
  }

  override release(): void {
    if (this.available !== 0) {
      throw new Error(
        'Lock.release: the lock is not held, so there is nothing to release; release once per acquire(), or use lock.run(fn) or `using` on the permit',
      );
    }
    super.release();
  }
}
