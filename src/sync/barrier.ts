import { onAbort } from '../cancel/index.ts';
import { BrokenBarrierError } from './errors.ts';
import {
  badSignal,
  checkCount,
  DONE,
  type Linked,
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
  readonly resolve: (index: number) => void;
  readonly reject: (reason: unknown) => void;

  constructor(resolve: (index: number) => void, reject: (reason: unknown) => void) {
    this.resolve = resolve;
    this.reject = reject;
  }
}

/**
 * A cyclic barrier, like asyncio.Barrier: `parties` callers meet at `wait()`, and when the
 * last one arrives all are released together, each with its arrival index 0..parties-1.
 * The barrier is then ready for the next round at once.
 *
 * An aborted waiter gives its place back: it leaves the round, and the indices of the round
 * are the arrival order of the parties that were there when it tripped (so they are always
 * distinct). `abort()` breaks the barrier: every waiter and every later `wait()` rejects with
 * `BrokenBarrierError` until `reset()`.
 */
export class Barrier {
  readonly #parties: number;
  readonly #waiters = new WaitList<Waiter>();
  #broken = false;

  constructor(parties: number) {
    this.#parties = checkCount('Barrier', 'parties', parties, 1);
  }

  /** How many parties each round needs. */
  get parties(): number {
    return this.#parties;
  }

  /** Parties waiting in the current round. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Whether `abort()` broke the barrier (until `reset()`). */
  get broken(): boolean {
    return this.#broken;
  }

  /**
   * Waits for the round to fill; resolves with this party's arrival index. Rejects with
   * `BrokenBarrierError` if the barrier is or gets broken or reset, and with `signal.reason`
   * (giving the place back) if `signal` aborts first.
   */
  wait(options?: SignalOptions): Promise<number> {
    const signal = options?.signal;
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal))
        return Promise.reject(badSignal('Barrier.wait', signal));
      if (signal.aborted) return Promise.reject(signal.reason);
    }
    if (this.#broken) {
      return Promise.reject(
        new BrokenBarrierError(
          `barrier is broken (abort() was called); call reset() before waiting on it again`,
        ),
      );
    }
    if (this.#waiters.length + 1 === this.#parties) {
      let index = 0;
      for (let waiter = this.#waiters.shift(); waiter !== null; waiter = this.#waiters.shift()) {
        waiter.state = DONE;
        waiter.unsubscribe?.();
        waiter.unsubscribe = null;
        waiter.resolve(index++);
      }
      return Promise.resolve(index);
    }
    return new Promise<number>((resolve, reject) => {
      const waiter = new Waiter(resolve, reject);
      this.#waiters.push(waiter);
      if (signal !== undefined) {
        waiter.unsubscribe = onAbort(signal, (reason) => {
          if (waiter.state !== WAITING) return;
          waiter.state = DONE;
          waiter.unsubscribe = null;
          this.#waiters.remove(waiter);
          reject(reason);
        });
      }
    });
  }

  /** Breaks the barrier: every waiter and every later `wait()` rejects until `reset()`. */
  abort(): void {
    const waiting = this.#waiters.length;
    this.#broken = true;
    this.#rejectAll(
      `barrier broken by abort() with ${waiting} of ${this.#parties} parties waiting`,
    );
  }

  /**
   * Returns the barrier to its empty, unbroken state. Parties waiting in the current round
   * reject with `BrokenBarrierError`.
   */
  reset(): void {
    const waiting = this.#waiters.length;
    this.#broken = false;
    this.#rejectAll(`barrier reset with ${waiting} of ${this.#parties} parties waiting`);
  }

  #rejectAll(message: string): void {
    for (let waiter = this.#waiters.shift(); waiter !== null; waiter = this.#waiters.shift()) {
      waiter.state = DONE;
      waiter.unsubscribe?.();
      waiter.unsubscribe = null;
      waiter.reject(new BrokenBarrierError(message));
    }
  }
}
