/**
 * Lets items leave an `ordered` stage in the order they entered it: the item with arrival index
 * `i` passes only after `i - 1` has. At most `concurrency` items wait, so the reorder window is
 * bounded by the stage's concurrency.
 *
 * Invariant: `#waiting` holds only indices greater than `#next`; each is resolved exactly once,
 * by `advance()` or `break()`.
 */
export class Turnstile {
  #next = 0;
  #arrived = 0;
  readonly #waiting = new Map<number, { resolve: () => void; reject: (reason: unknown) => void }>();
  #broken = false;
  #reason: unknown;

  /** An item entered the stage: its arrival index. */
  arrive(): number {
    return this.#arrived++;
  }

  /** Resolves when it is `index`'s turn; `undefined` (no promise) when it already is. */
  wait(index: number): Promise<void> | undefined {
    if (this.#broken) return Promise.reject(this.#reason);
    if (index === this.#next) return undefined;
    return new Promise((resolve, reject) => this.#waiting.set(index, { resolve, reject }));
  }

  /** The item whose turn it was has passed: let the next one through. */
  advance(): void {
    const next = ++this.#next;
    const waiter = this.#waiting.get(next);
    if (waiter !== undefined) {
      this.#waiting.delete(next);
      waiter.resolve();
    }
  }

  /** Rejects every wait, now and later (the run stops hard). */
  break(reason: unknown): void {
    this.#broken = true;
    this.#reason = reason;
    for (const waiter of this.#waiting.values()) waiter.reject(reason);
    this.#waiting.clear();
  }
}
