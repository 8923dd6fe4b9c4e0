/**
 * Where a queue keeps its items, and so the order it hands them out in. Subclass `Queue` and
 * override `createStore()` to plug in your own.
 */
export interface QueueStore<T> {
  /** Items held. */
  readonly length: number;
  /** Adds an item. */
  put(item: T): void;
  /** Removes and returns the next item; only called when `length > 0`. */
  take(): T;
  /** Drops every item. */
  clear(): void;
}

/**
 * A ring buffer over a power-of-two array: O(1) push and shift at either end, no
 * `Array.prototype.shift` copying. It grows by doubling and never shrinks below what it held.
 */
export class Deque<T> implements QueueStore<T> {
  #items: (T | undefined)[];
  #mask: number;
  #head = 0;
  #length = 0;

  constructor(capacity = 16) {
    let size = 16;
    while (size < capacity) size *= 2;
    this.#items = new Array<T | undefined>(size).fill(undefined);
    this.#mask = size - 1;
  }

  get length(): number {
    return this.#length;
  }

  /** Adds at the back. */
  put(item: T): void {
    if (this.#length > this.#mask) this.#grow();
    this.#items[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
  }

  /** Removes from the front (FIFO). */
  take(): T {
    const head = this.#head;
    const item = this.#items[head] as T;
    this.#items[head] = undefined;
    this.#head = (head + 1) & this.#mask;
    this.#length--;
    return item;
  }

  /** Removes from the back (LIFO). */
  pop(): T {
    const index = (this.#head + this.#length - 1) & this.#mask;
    const item = this.#items[index] as T;
    this.#items[index] = undefined;
    this.#length--;
    return item;
  }

  clear(): void {
    this.#items.fill(undefined);
    this.#head = 0;
    this.#length = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.#items[(this.#head + i) & this.#mask] as T;
  }

  #grow(): void {
    const old = this.#items;
    const size = old.length;
    const items = new Array<T | undefined>(size * 2).fill(undefined);
    for (let i = 0; i < size; i++) items[i] = old[(this.#head + i) & this.#mask];
    this.#items = items;
    this.#head = 0;
    this.#mask = size * 2 - 1;
  }
}

/** Last in, first out. */
export class Stack<T> implements QueueStore<T> {
  #items: T[] = [];

  get length(): number {
    return this.#items.length;
  }

  put(item: T): void {
    this.#items.push(item);
  }

  take(): T {
    return this.#items.pop() as T;
  }

  clear(): void {
    this.#items = [];
  }
}

/**
 * A binary min-heap ordered by `compare`, ties broken by insertion order, so items of equal
 * priority come out first in, first out. Items and their sequence numbers sit in two parallel
 * arrays: no wrapper object per item.
 */
export class Heap<T> implements QueueStore<T> {
  #items: T[] = [];
  #seqs: number[] = [];
  #seq = 0;
  readonly #compare: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  get length(): number {
    return this.#items.length;
  }

  put(item: T): void {
    const items = this.#items;
    const seqs = this.#seqs;
    const seq = this.#seq++;
    let i = items.length;
    items.push(item);
    seqs.push(seq);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(item, seq, items[parent] as T, seqs[parent] as number)) break;
      items[i] = items[parent] as T;
      seqs[i] = seqs[parent] as number;
      i = parent;
    }
    items[i] = item;
    seqs[i] = seq;
  }

  take(): T {
    const items = this.#items;
    const seqs = this.#seqs;
    const top = items[0] as T;
    const lastItem = items.pop() as T;
    const lastSeq = seqs.pop() as number;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        let child = left;
        if (
          right < n &&
          this.#less(
            items[right] as T,
            seqs[right] as number,
            items[left] as T,
            seqs[left] as number,
          )
        ) {
          child = right;
        }
        if (!this.#less(items[child] as T, seqs[child] as number, lastItem, lastSeq)) break;
        items[i] = items[child] as T;
        seqs[i] = seqs[child] as number;
        i = child;
      }
      items[i] = lastItem;
      seqs[i] = lastSeq;
    }
    return top;
  }

  clear(): void {
    this.#items = [];
    this.#seqs = [];
  }

  #less(a: T, aSeq: number, b: T, bSeq: number): boolean {
    const order = this.#compare(a, b);
    return order < 0 || (order === 0 && aSeq < bSeq);
  }
}
