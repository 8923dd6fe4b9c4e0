import type { SignalOptions } from '../cancel/index.ts';
import { onAbort } from '../cancel/index.ts';
import { Event } from '../sync/index.ts';
import {
  badSignal,
  checkCount,
  DONE,
  type Linked,
  PENDING,
  RESOLVED,
  WAITING,
  type WaiterState,
  WaitList,
} from '../sync/internal.ts';
import { QueueEmptyError, QueueFullError, QueueShutDownError } from './errors.ts';
import { Deque, Heap, type QueueStore, Stack } from './store.ts';

export interface QueueOptions {
  /** The most items the queue holds; `put` waits while it is full. 0 (default) = unbounded. */
  maxsize?: number | undefined;
}

export interface PriorityQueueOptions<T> extends QueueOptions {
  /**
   * Orders items, smallest first: negative when `a` comes before `b`. Default: `<` / `>`
   * on the items themselves (numbers, strings). Equal items come out in insertion order.
   */
  compare?: ((a: T, b: T) => number) | undefined;
}

export interface QueueIterateOptions extends SignalOptions {
  /**
   * Mark each item done (`taskDone()`) when the loop body that received it finishes, normally
   * or by `break`/`throw`, so `join()` works with `for await`. Default true; set false to call
   * `taskDone()` yourself.
   */
  autoTaskDone?: boolean | undefined;
}

export interface QueueShutdownOptions {
  /** Drop the items still queued (marking them done) instead of letting gets drain them. */
  immediate?: boolean | undefined;
}

/** A snapshot of a queue's state and counters, for metrics. */
export interface QueueStats {
  size: number;
  /** 0 = unbounded. */
  maxsize: number;
  /** `put` calls waiting for room. */
  waitingPutters: number;
  /** `get` calls waiting for an item. */
  waitingGetters: number;
  /** Items that entered the queue since creation. */
  putTotal: number;
  /** Items handed out by `get` / `getNowait` since creation. */
  gotTotal: number;
  /** Waits (put or get) cancelled by their signal. */
  cancelledTotal: number;
  /** Items put but not yet marked with `taskDone()`; `join()` waits for 0. */
  unfinishedTasks: number;
  shutDown: boolean;
}

class Getter<T> implements Linked<Getter<T>> {
  prev: Getter<T> | null = null;
  next: Getter<T> | null = null;
  state: WaiterState = WAITING;
  unsubscribe: (() => void) | null = null;
  readonly resolve: (item: T) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;

  constructor(
    resolve: (item: T) => void,
    reject: (reason: unknown) => void,
    signal: AbortSignal | undefined,
  ) {
    this.resolve = resolve;
    this.reject = reject;
    this.signal = signal;
  }
}

class Putter<T> implements Linked<Putter<T>> {
  prev: Putter<T> | null = null;
  next: Putter<T> | null = null;
  state: WaiterState = WAITING;
  unsubscribe: (() => void) | null = null;
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;

  constructor(
    item: T,
    resolve: () => void,
    reject: (reason: unknown) => void,
    signal: AbortSignal | undefined,
  ) {
    this.item = item;
    this.resolve = resolve;
    this.reject = reject;
    this.signal = signal;
  }
}

function unsubscribe(waiter: { unsubscribe: (() => void) | null }): void {
  const off = waiter.unsubscribe;
  if (off !== null) {
    waiter.unsubscribe = null;
    off();
  }
}

/**
 * A FIFO queue for producers and consumers, like asyncio.Queue (with Python 3.13's
 * `shutdown`), FIFO-fair and cancellation-safe on both sides.
 *
 * Invariants, between operations:
 * - `size <= maxsize` at every moment (when bounded).
 * - Getters wait only while every queued item is already promised to an earlier getter;
 *   putters wait only while every slot is taken or promised to an earlier putter. So waiters
 *   are served in arrival order and a later call never barges past them.
 * - A waiter with a signal that is handed an item (or a slot) takes it at the end of the
 *   current microtask, or as soon as another call on the queue needs the state settled,
 *   whichever comes first; an abort that lands before then cancels the wait cleanly — the
 *   item stays queued for the next getter, the putter's item never enters. Until then the
 *   item still counts in `size`.
 */
export class Queue<T> implements AsyncIterable<T> {
  readonly #name: string;
  readonly #store: QueueStore<T>;
  readonly #maxsize: number;
  readonly #getters = new WaitList<Getter<T>>();
  readonly #putters = new WaitList<Putter<T>>();
  /** Getters each promised one item already in the store, in arrival order. */
  readonly #wokenGetters: Getter<T>[] = [];
  #wokenGettersLive = 0;
  /** Putters each promised one slot, in arrival order. */
  readonly #wokenPutters: Putter<T>[] = [];
  #wokenPuttersLive = 0;
  #hasPending = false;
  #flushQueued = false;
  #unfinished = 0;
  readonly #finished = new Event();
  #shutDown = false;
  #putTotal = 0;
  #gotTotal = 0;
  #cancelledTotal = 0;

  constructor(options: QueueOptions = {}) {
    this.#name = new.target.name;
    const maxsize = options.maxsize ?? 0;
    this.#maxsize = checkCount(this.#name, 'maxsize', maxsize, 0);
    this.#store = this.createStore(options);
    this.#finished.set();
  }

  /** Where the items live; decides the order. Override to plug in your own `QueueStore`. */
  protected createStore(_options: QueueOptions): QueueStore<T> {
    return new Deque<T>();
  }

  /** Items in the queue. */
  get size(): number {
    return this.#store.length;
  }

  /** The bound (0 = unbounded). */
  get maxsize(): number {
    return this.#maxsize;
  }

  get empty(): boolean {
    return this.#store.length === 0;
  }

  /** Whether `size` reached `maxsize` (never, when unbounded). */
  get full(): boolean {
    return this.#maxsize !== 0 && this.#store.length >= this.#maxsize;
  }

  /** Whether `shutdown()` was called. */
  get shutDown(): boolean {
    return this.#shutDown;
  }

  /**
   * Adds `item`, waiting while the queue is full. Rejects with `QueueShutDownError` once the
   * queue is shut down (also while waiting), and with `signal.reason` if `signal` aborts
   * first — the item is then not in the queue.
   */
  put(item: T, options?: SignalOptions): Promise<void> {
    if (this.#hasPending) this.#flush();
    const signal = options?.signal;
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal)) {
        return Promise.reject(badSignal(`${this.#name}.put`, signal));
      }
      if (signal.aborted) return Promise.reject(signal.reason);
    }
    if (this.#shutDown) return Promise.reject(this.#shutDownError('put'));
    if (this.#maxsize === 0 || this.#store.length < this.#maxsize) {
      this.#insert(item);
      return RESOLVED;
    }
    return new Promise<void>((resolve, reject) => {
      const putter = new Putter(item, resolve, reject, signal);
      this.#putters.push(putter);
      if (signal !== undefined) {
        putter.unsubscribe = onAbort(signal, (reason) => this.#cancelPutter(putter, reason));
      }
    });
  }

  /** Adds `item` now, or throws `QueueFullError` (`QueueShutDownError` once shut down). */
  putNowait(item: T): void {
    if (this.#hasPending) this.#flush();
    if (this.#shutDown) throw this.#shutDownError('putNowait');
    if (this.#maxsize !== 0 && this.#store.length >= this.#maxsize) {
      throw new QueueFullError(
        `${this.#name}.putNowait: queue full (${this.#store.length}/${this.#maxsize} items); use await put() to wait for room`,
      );
    }
    this.#insert(item);
  }

  /**
   * Removes and returns the next item, waiting while the queue is empty. Once the queue is
   * shut down, drains what is left, then rejects with `QueueShutDownError`. Aborting `signal`
   * rejects with `signal.reason` and takes nothing.
   */
  get(options?: SignalOptions): Promise<T> {
    if (this.#hasPending) this.#flush();
    const signal = options?.signal;
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal)) {
        return Promise.reject(badSignal(`${this.#name}.get`, signal));
      }
      if (signal.aborted) return Promise.reject(signal.reason);
    }
    if (this.#store.length !== 0) return Promise.resolve(this.#takeNow());
    if (this.#shutDown) return Promise.reject(this.#shutDownError('get'));
    return new Promise<T>((resolve, reject) => {
      const getter = new Getter<T>(resolve, reject, signal);
      this.#getters.push(getter);
      if (signal !== undefined) {
        getter.unsubscribe = onAbort(signal, (reason) => this.#cancelGetter(getter, reason));
      }
    });
  }

  /**
   * Removes and returns the next item now, or throws `QueueEmptyError` (`QueueShutDownError`
   * once shut down and empty).
   */
  getNowait(): T {
    if (this.#hasPending) this.#flush();
    if (this.#store.length !== 0) return this.#takeNow();
    if (this.#shutDown) throw this.#shutDownError('getNowait');
    throw new QueueEmptyError(
      `${this.#name}.getNowait: queue empty (0 items, ${this.#getters.length} gets already waiting); use await get() to wait for one`,
    );
  }

  /**
   * Marks one item that was got as processed. `join()` resolves when every item put has been
   * marked. Throws when called more times than items were put.
   */
  taskDone(): void {
    if (this.#unfinished === 0) {
      throw new Error(
        `${this.#name}.taskDone: called more times than items were put (0 unfinished of ${this.#putTotal} put); call it exactly once per item you got`,
      );
    }
    if (--this.#unfinished === 0) this.#finished.set();
  }

  /**
   * Resolves once every item put has been marked with `taskDone()` — at once when none is
   * unfinished. Aborting `signal` rejects with `signal.reason`.
   */
  join(options?: SignalOptions): Promise<void> {
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      return Promise.reject(badSignal(`${this.#name}.join`, signal));
    }
    return this.#finished.wait(options);
  }

  /**
   * Python 3.13's `Queue.shutdown`: from now on `put` / `putNowait` reject with
   * `QueueShutDownError`, and so do the puts waiting now. Gets drain the items left, then
   * reject with it (the gets waiting now reject at once: the queue is empty, or they would
   * not wait). With `immediate`, the items left are dropped and marked done — `join()`
   * resolves as soon as the items already got are marked done too. Idempotent; an immediate
   * shutdown after a plain one still drops the rest.
   */
  shutdown(options: QueueShutdownOptions = {}): void {
    this.#shutDown = true;
    // Puts first, also those promised a slot in this tick: their items never enter.
    for (const putter of this.#wokenPutters) {
      if (putter.state !== PENDING) continue;
      putter.state = DONE;
      this.#wokenPuttersLive--;
      unsubscribe(putter);
      putter.reject(this.#shutDownError('put'));
    }
    for (let putter = this.#putters.shift(); putter !== null; putter = this.#putters.shift()) {
      putter.state = DONE;
      unsubscribe(putter);
      putter.reject(this.#shutDownError('put'));
    }
    if (options.immediate) {
      const dropped = this.#store.length;
      this.#store.clear();
      this.#unfinished = Math.max(0, this.#unfinished - dropped);
      if (this.#unfinished === 0) this.#finished.set();
      for (const getter of this.#wokenGetters) {
        if (getter.state !== PENDING) continue;
        getter.state = DONE;
        this.#wokenGettersLive--;
        unsubscribe(getter);
        getter.reject(this.#shutDownError('get'));
      }
    }
    // Gets promised an item in this tick take it (a plain shutdown lets gets drain).
    if (this.#hasPending) this.#flush();
    for (let getter = this.#getters.shift(); getter !== null; getter = this.#getters.shift()) {
      getter.state = DONE;
      unsubscribe(getter);
      getter.reject(this.#shutDownError('get'));
    }
  }

  /**
   * Iterates with `get()` until the queue is shut down and drained (then the loop just ends).
   * By default each item is marked done when the loop body that got it finishes — see
   * `QueueIterateOptions.autoTaskDone`. Aborting `signal` makes the loop throw its reason.
   */
  async *iterate(options: QueueIterateOptions = {}): AsyncGenerator<T, void, undefined> {
    const { signal, autoTaskDone = true } = options;
    const getOptions = { signal };
    for (;;) {
      let item: T;
      try {
        item = await this.get(getOptions);
      } catch (error) {
        if (error instanceof QueueShutDownError && this.#shutDown) return;
        throw error;
      }
      try {
        yield item;
      } finally {
        if (autoTaskDone) this.taskDone();
      }
    }
  }

  /** `for await (const item of queue)`: `iterate()` with its defaults. */
  [Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    return this.iterate();
  }

  /** A snapshot of the state and counters. */
  stats(): QueueStats {
    return {
      size: this.#store.length,
      maxsize: this.#maxsize,
      waitingPutters: this.#putters.length,
      waitingGetters: this.#getters.length,
      putTotal: this.#putTotal,
      gotTotal: this.#gotTotal,
      cancelledTotal: this.#cancelledTotal,
      unfinishedTasks: this.#unfinished,
      shutDown: this.#shutDown,
    };
  }

  /** An item enters the queue: straight to the first waiting getter, or into the store. */
  #insert(item: T): void {
    this.#putTotal++;
    if (this.#unfinished++ === 0) this.#finished.clear();
    const getter = this.#getters.shift();
    if (getter === null) {
      this.#store.put(item);
    } else if (getter.signal === undefined && this.#wokenGettersLive === 0) {
      // The store is empty (getters wait only then): hand the item over directly.
      getter.state = DONE;
      this.#gotTotal++;
      getter.resolve(item);
    } else {
      this.#store.put(item);
      this.#promiseItem(getter);
    }
  }

  /** Takes the next item; there is one and it is not promised to a waiting getter. */
  #takeNow(): T {
    const item = this.#store.take();
    this.#gotTotal++;
    if (this.#putters.head !== null) this.#freeSlot();
    return item;
  }

  /** `getter` is owed an item that is in the store: give it now, or at commit. */
  #promiseItem(getter: Getter<T>): void {
    if (getter.signal === undefined && this.#wokenGettersLive === 0) {
      getter.state = DONE;
      getter.resolve(this.#takeNow());
      return;
    }
    getter.state = PENDING;
    this.#wokenGetters.push(getter);
    this.#wokenGettersLive++;
    this.#schedule();
  }

  /** A slot may have opened: let the first waiting putter in, now or at commit. */
  #freeSlot(): void {
    const putter = this.#putters.head;
    if (putter === null || this.#store.length + this.#wokenPuttersLive >= this.#maxsize) return;
    this.#putters.shift();
    if (putter.signal === undefined && this.#wokenPuttersLive === 0) {
      putter.state = DONE;
      this.#insert(putter.item);
      putter.resolve();
      return;
    }
    putter.state = PENDING;
    this.#wokenPutters.push(putter);
    this.#wokenPuttersLive++;
    this.#schedule();
  }

  #schedule(): void {
    this.#hasPending = true;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#onMicrotask);
    }
  }

  readonly #onMicrotask = (): void => {
    this.#flushQueued = false;
    if (this.#hasPending) this.#flush();
  };

  /** Commits every pending hand-over, in arrival order. */
  #flush(): void {
    const getters = this.#wokenGetters;
    const putters = this.#wokenPutters;
    let g = 0;
    let p = 0;
    while (g < getters.length || p < putters.length) {
      while (g < getters.length) {
        const getter = getters[g++]!;
        if (getter.state !== PENDING) continue;
        getter.state = DONE;
        this.#wokenGettersLive--;
        unsubscribe(getter);
        getter.resolve(this.#takeNow());
      }
      while (p < putters.length) {
        const putter = putters[p++]!;
        if (putter.state !== PENDING) continue;
        putter.state = DONE;
        this.#wokenPuttersLive--;
        unsubscribe(putter);
        this.#insert(putter.item);
        putter.resolve();
      }
    }
    getters.length = 0;
    putters.length = 0;
    this.#hasPending = false;
  }

  #cancelGetter(getter: Getter<T>, reason: unknown): void {
    const state = getter.state;
    if (state === DONE) return;
    getter.state = DONE;
    getter.unsubscribe = null;
    this.#cancelledTotal++;
    if (state === WAITING) {
      this.#getters.remove(getter);
    } else {
      // Its item stays queued: it is owed to the next waiting getter, if any.
      this.#wokenGettersLive--;
      const next = this.#getters.shift();
      if (next !== null) this.#promiseItem(next);
    }
    getter.reject(reason);
  }

  #cancelPutter(putter: Putter<T>, reason: unknown): void {
    const state = putter.state;
    if (state === DONE) return;
    putter.state = DONE;
    putter.unsubscribe = null;
    this.#cancelledTotal++;
    if (state === WAITING) {
      this.#putters.remove(putter);
    } else {
      // Its item never entered; the slot it was promised goes to the next putter.
      this.#wokenPuttersLive--;
      this.#freeSlot();
    }
    putter.reject(reason);
  }

  #shutDownError(method: string): QueueShutDownError {
    return new QueueShutDownError(
      method.startsWith('put')
        ? `${this.#name}.${method}: the queue is shut down and accepts no more items`
        : `${this.#name}.${method}: the queue is shut down and empty`,
    );
  }
}

function naturalOrder(a: unknown, b: unknown): number {
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

/**
 * A queue that hands out the smallest item first (by `compare`), like asyncio.PriorityQueue;
 * items that compare equal come out in the order they were put.
 */
export class PriorityQueue<T> extends Queue<T> {
  constructor(options: PriorityQueueOptions<T> = {}) {
    super(options);
  }

  protected override createStore(options: PriorityQueueOptions<T>): QueueStore<T> {
    const compare = options.compare ?? naturalOrder;
    if (typeof compare !== 'function') {
      throw new TypeError(`PriorityQueue: compare must be a function, got ${typeof compare}`);
    }
    return new Heap<T>(compare);
  }
}

/** A queue that hands out the most recently put item first, like asyncio.LifoQueue. */
export class LifoQueue<T> extends Queue<T> {
  protected override createStore(): QueueStore<T> {
    return new Stack<T>();
  }
}
