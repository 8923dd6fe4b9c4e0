/**
 * Shared memory that crosses into ThreadPool tasks: a counter and a mutex over a
 * SharedArrayBuffer with Atomics. Pass them as task arguments (top level, or one level inside an
 * array or plain object): the worker gets an instance over the same memory, not a copy.
 *
 * Nothing here starts a thread: the worker side imports this file.
 */
import { threadId } from 'node:worker_threads';
import { onAbort, type SignalOptions } from '../cancel/index.ts';
import { BrokenResourceError } from './errors.ts';

const BRAND = '__switchyard';

/** Atomics.waitAsync (V8 ≥ 8.7, so every Node this supports), missing from the ES2023 lib. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

/** Mutex states, in slot STATE. */
const FREE = 0;
const LOCKED = 1;
/** Locked, and someone may be waiting: unlock must notify. */
const CONTENDED = 2;
/** The holder died holding it: every acquire throws BrokenResourceError. */
const BROKEN = 3;

const STATE = 0;
/** threadId + 1 of the holder (0: none). */
const OWNER = 1;
/** threadId + 1 of the holder that died, once BROKEN. */
const DEAD = 2;

/** This thread's identity in a mutex's OWNER slot (the main thread is 1). */
const me = threadId + 1;

/**
 * A 64-bit integer counter in shared memory; every operation is atomic. Values are numbers,
 * exact up to 2^53.
 */
export class SharedCounter {
  readonly [BRAND] = 'SharedCounter';
  /** The memory: 8 bytes. Hand it to `SharedCounter.from()` to get another view of it. */
  readonly buffer: SharedArrayBuffer;
  #cell: BigInt64Array;

  constructor(initial = 0) {
    this.buffer = new SharedArrayBuffer(8);
    this.#cell = new BigInt64Array(this.buffer);
    if (initial !== 0) this.#cell[0] = BigInt(initial);
  }

  /** Another counter over the same memory (what a worker gets for a counter passed to it). */
  static from(buffer: SharedArrayBuffer): SharedCounter {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < 8) {
      throw new TypeError('SharedCounter.from: buffer must be a SharedArrayBuffer of 8 bytes');
    }
    const counter = new SharedCounter();
    (counter as { buffer: SharedArrayBuffer }).buffer = buffer;
    counter.#cell = new BigInt64Array(buffer);
    return counter;
  }

  get value(): number {
    return Number(Atomics.load(this.#cell, 0));
  }

  /** Adds `n` (default 1) and returns the new value. */
  add(n = 1): number {
    const big = BigInt(n);
    return Number(Atomics.add(this.#cell, 0, big) + big);
  }

  increment(): number {
    return this.add(1);
  }

  decrement(): number {
    return this.add(-1);
  }

  set(value: number): void {
    Atomics.store(this.#cell, 0, BigInt(value));
  }

  /** Sets `value` if the counter holds `expected`; returns what it held. */
  compareExchange(expected: number, value: number): number {
    return Number(Atomics.compareExchange(this.#cell, 0, BigInt(expected), BigInt(value)));
  }
}

/** Mutexes created on this thread, so a dead worker's holds can be found and broken. */
const live = new Set<WeakRef<SharedMutex>>();
const registry = new FinalizationRegistry<WeakRef<SharedMutex>>((ref) => live.delete(ref));

/**
 * A mutual-exclusion lock in shared memory, usable from every thread of a process: `lockSync()`
 * blocks (Atomics.wait; meant for workers), `await lock()` waits without blocking the event loop
 * (Atomics.waitAsync; meant for the main thread). Not reentrant; not FIFO (a futex, like
 * pthread mutexes).
 *
 * If the thread holding it dies, the pool marks it broken: every acquirer, present and future,
 * gets a `BrokenResourceError` naming the dead holder instead of waiting forever (trio's rule).
 * This works for mutexes created on the main thread, whose pools see their workers die.
 */
export class SharedMutex {
  readonly [BRAND] = 'SharedMutex';
  /** The memory: 12 bytes (state, holder, dead holder). */
  readonly buffer: SharedArrayBuffer;
  #cells: Int32Array;

  constructor() {
    this.buffer = new SharedArrayBuffer(12);
    this.#cells = new Int32Array(this.buffer);
    const ref = new WeakRef(this);
    live.add(ref);
    registry.register(this, ref);
  }

  /** Another mutex over the same memory (what a worker gets for a mutex passed to it). */
  static from(buffer: SharedArrayBuffer): SharedMutex {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < 12) {
      throw new TypeError('SharedMutex.from: buffer must be a SharedArrayBuffer of 12 bytes');
    }
    const mutex = new SharedMutex();
    (mutex as { buffer: SharedArrayBuffer }).buffer = buffer;
    mutex.#cells = new Int32Array(buffer);
    return mutex;
  }

  /** Whether some thread holds it. */
  get locked(): boolean {
    const state = Atomics.load(this.#cells, STATE);
    return state === LOCKED || state === CONTENDED;
  }

  /** Whether its holder died holding it. */
  get broken(): boolean {
    return Atomics.load(this.#cells, STATE) === BROKEN;
  }

  #brokenError(): BrokenResourceError {
    const dead = Atomics.load(this.#cells, DEAD) - 1;
    return new BrokenResourceError(
      `SharedMutex is broken: its holder (thread ${dead}) died while holding it`,
    );
  }

  #acquired(): void {
    Atomics.store(this.#cells, OWNER, me);
  }

  /** Takes the lock if it is free; never waits. Throws if the mutex is broken. */
  tryLock(): boolean {
    const c = Atomics.compareExchange(this.#cells, STATE, FREE, LOCKED);
    if (c === FREE) {
      this.#acquired();
      return true;
    }
    if (c === BROKEN) throw this.#brokenError();
    return false;
  }

  /**
   * Marks the lock contended and returns the state seen: FREE means take it now (as CONTENDED,
   * since others may still sleep), BROKEN means give up, anything else means sleep on 2.
   */
  #contend(): number {
    const c = Atomics.compareExchange(this.#cells, STATE, LOCKED, CONTENDED);
    return c === LOCKED ? CONTENDED : c;
  }

  /**
   * Blocks this thread until the lock is taken. In a worker that is the point; on the main
   * thread it blocks the event loop, so prefer `await lock()` there.
   */
  lockSync(): void {
    let c = Atomics.compareExchange(this.#cells, STATE, FREE, LOCKED);
    while (c !== FREE) {
      if (c === BROKEN) throw this.#brokenError();
      c = this.#contend();
      if (c === FREE) {
        c = Atomics.compareExchange(this.#cells, STATE, FREE, CONTENDED);
        continue;
      }
      if (c === BROKEN) continue;
      Atomics.wait(this.#cells, STATE, CONTENDED);
      c = Atomics.compareExchange(this.#cells, STATE, FREE, CONTENDED);
    }
    this.#acquired();
  }

  /**
   * Waits for the lock without blocking the event loop. Aborting `signal` rejects with its
   * reason and leaves the lock untouched (a wake-up it swallowed is passed on).
   */
  async lock(options: SignalOptions = {}): Promise<void> {
    const { signal } = options;
    signal?.throwIfAborted();
    let c = Atomics.compareExchange(this.#cells, STATE, FREE, LOCKED);
    while (c !== FREE) {
      if (c === BROKEN) throw this.#brokenError();
      c = this.#contend();
      if (c === FREE) {
        c = Atomics.compareExchange(this.#cells, STATE, FREE, CONTENDED);
        continue;
      }
      if (c === BROKEN) continue;
      const waited = waitAsync(this.#cells, STATE, CONTENDED);
      if (waited.async) await this.#sleep(waited.value, signal);
      c = Atomics.compareExchange(this.#cells, STATE, FREE, CONTENDED);
    }
    this.#acquired();
  }

  #sleep(wake: Promise<string>, signal: AbortSignal | undefined): Promise<unknown> {
    if (!signal) return wake;
    return new Promise((resolve, reject) => {
      let cancelled = false;
      const unsubscribe = onAbort(signal, (reason) => {
        cancelled = true;
        reject(reason);
      });
      void wake.then((how) => {
        unsubscribe();
        if (!cancelled) {
          resolve(how);
        } else if (how === 'ok') {
          // We were the one woken by an unlock but have left: wake the next sleeper instead.
          Atomics.notify(this.#cells, STATE, 1);
        }
      });
    });
  }

  /** Releases the lock. Throws if this thread does not hold it. */
  unlock(): void {
    const state = Atomics.load(this.#cells, STATE);
    if ((state !== LOCKED && state !== CONTENDED) || Atomics.load(this.#cells, OWNER) !== me) {
      throw new Error('SharedMutex.unlock: this thread does not hold the lock');
    }
    Atomics.store(this.#cells, OWNER, 0);
    if (Atomics.exchange(this.#cells, STATE, FREE) === CONTENDED) {
      Atomics.notify(this.#cells, STATE, 1);
    }
  }

  /** Runs `fn` holding the lock (taken with `lockSync()`), and releases it however fn ends. */
  runSync<T>(fn: () => T): T {
    this.lockSync();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }

  /** Runs `fn` holding the lock (taken with `await lock()`), and releases it however fn ends. */
  async run<T>(fn: () => T | PromiseLike<T>, options: SignalOptions = {}): Promise<T> {
    await this.lock(options);
    try {
      return await fn();
    } finally {
      this.unlock();
    }
  }

  /** @internal Breaks the lock if `deadThreadId` held it. Returns whether it did. */
  breakIfHeldBy(deadThreadId: number): boolean {
    const owner = deadThreadId + 1;
    if (Atomics.load(this.#cells, OWNER) !== owner) return false;
    const state = Atomics.load(this.#cells, STATE);
    if (state !== LOCKED && state !== CONTENDED) return false;
    if (Atomics.compareExchange(this.#cells, STATE, state, BROKEN) !== state) return false;
    Atomics.store(this.#cells, DEAD, owner);
    Atomics.notify(this.#cells, STATE);
    return true;
  }
}

/**
 * Called by a pool when a worker thread dies: breaks every mutex created on this thread that
 * the dead thread was holding. Returns how many it broke.
 */
export function breakMutexesHeldBy(deadThreadId: number): number {
  let broken = 0;
  for (const ref of live) {
    const mutex = ref.deref();
    if (mutex === undefined) {
      live.delete(ref);
    } else if (mutex.breakIfHeldBy(deadThreadId)) {
      broken++;
    }
  }
  return broken;
}

/**
 * Gives a worker real SharedCounter / SharedMutex objects for the branded plain objects that
 * structured clone made of them: top-level arguments, and one level inside arrays and plain
 * objects. Returns `args` itself (mutated) — it is the worker's own copy.
 */
export function reviveShared(args: unknown[]): unknown[] {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (typeof arg !== 'object' || arg === null) continue;
    const revived = revive(arg);
    if (revived !== arg) {
      args[i] = revived;
      continue;
    }
    if (Array.isArray(arg)) {
      for (let j = 0; j < arg.length; j++) arg[j] = revive(arg[j]);
    } else if (Object.getPrototypeOf(arg) === Object.prototype) {
      const record = arg as Record<string, unknown>;
      for (const key of Object.keys(record)) record[key] = revive(record[key]);
    }
  }
  return args;
}

function revive(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const brand = (value as Record<string, unknown>)[BRAND];
  if (brand === undefined) return value;
  const { buffer } = value as { buffer: SharedArrayBuffer };
  if (brand === 'SharedCounter') return SharedCounter.from(buffer);
  if (brand === 'SharedMutex') return SharedMutex.from(buffer);
  return value;
}
