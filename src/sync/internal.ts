/**
 * Internals shared by sync/ and queue/: the intrusive wait list, waiter states, the shared
 * resolved promise and signal validation. Not part of the public API.
 */

/** A waiter sits in a wait list, waiting for its turn. */
export const WAITING = 0;
/**
 * A waiter was granted (a permit, an item, a slot) but its signal can still abort before the
 * grant commits at the end of the current microtask; an abort then hands the grant on.
 */
export const PENDING = 1;
/** A waiter has settled (or is no longer in any list). */
export const DONE = 2;

export type WaiterState = typeof WAITING | typeof PENDING | typeof DONE;

export interface Linked<N> {
  prev: N | null;
  next: N | null;
}

/**
 * A doubly linked FIFO of waiter objects that carry their own links: push, shift and removal
 * of a cancelled waiter are all O(1) and allocate nothing beyond the waiter itself.
 */
export class WaitList<N extends Linked<N>> {
  head: N | null = null;
  tail: N | null = null;
  length = 0;

  push(node: N): void {
    const tail = this.tail;
    node.prev = tail;
    node.next = null;
    if (tail === null) this.head = node;
    else tail.next = node;
    this.tail = node;
    this.length++;
  }

  shift(): N | null {
    const node = this.head;
    if (node === null) return null;
    const next = node.next;
    this.head = next;
    if (next === null) this.tail = null;
    else next.prev = null;
    node.next = null;
    this.length--;
    return node;
  }

  /** Unlinks `node`, which the caller knows is in this list. */
  remove(node: N): void {
    const { prev, next } = node;
    if (prev === null) this.head = next;
    else prev.next = next;
    if (next === null) this.tail = prev;
    else next.prev = prev;
    node.prev = null;
    node.next = null;
    this.length--;
  }
}

/** Handed out for every wait that needs no waiting: no allocation per call. */
export const RESOLVED: Promise<void> = Promise.resolve();

/** A `signal` option must be an AbortSignal or absent; anything else is a bug worth naming. */
export function badSignal(where: string, signal: unknown): TypeError {
  return new TypeError(`${where}: signal must be an AbortSignal, got ${typeof signal}`);
}

/** Checks a count option (permits, parties, maxsize). */
export function checkCount(where: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`${where}: ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

export type { SignalOptions } from '../cancel/options.ts';
