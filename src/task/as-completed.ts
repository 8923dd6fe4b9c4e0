import { CancelledError } from '../cancel/errors.ts';
import { onAbort } from '../cancel/on-abort.ts';
import { signalError } from '../cancel/options.ts';
import { type Awaitable, type AwaitedItem, startItem } from './items.ts';

export interface AsCompletedOptions {
  /** Aborting makes the pending `next()` reject with the reason and aborts the factories. */
  signal?: AbortSignal | undefined;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
type Waiter = { resolve: (result: IteratorResult<unknown>) => void; reject: (e: unknown) => void };

/**
 * Yields each item's value as it completes, fastest first (asyncio's `as_completed`).
 * Factories start on the first `next()`. A rejected item throws from the iteration at its
 * turn; that, `break`, or an abort ends the iteration and aborts the factories still running.
 *
 * @example
 * for await (const page of asCompleted(urls.map((u) => (signal) => fetchPage(u, signal)))) …
 */
export function asCompleted<const I extends readonly Awaitable<unknown>[]>(
  items: I,
  options: AsCompletedOptions = {},
): AsyncIterableIterator<AwaitedItem<I[number]>> {
  return new CompletionIterator(items, options.signal) as AsyncIterableIterator<
    AwaitedItem<I[number]>
  >;
}

class CompletionIterator implements AsyncIterableIterator<unknown> {
  readonly #items: readonly Awaitable<unknown>[];
  readonly #signal: AbortSignal | undefined;
  readonly #outcomes: Outcome[] = [];
  readonly #waiters: Waiter[] = [];
  #remaining: number;
  #started = false;
  #finished = false;
  #controller: AbortController | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(items: readonly Awaitable<unknown>[], signal: AbortSignal | undefined) {
    this.#items = items;
    this.#signal = signal;
    this.#remaining = items.length;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    const invalid = signalError('asCompleted', this.#signal);
    if (invalid) return Promise.reject(invalid);
    if (!this.#started) this.#start();
    if (this.#signal?.aborted && !this.#finished) {
      this.#finish(this.#signal.reason);
      return Promise.reject(this.#signal.reason);
    }
    const outcome = this.#outcomes.shift();
    if (outcome !== undefined) return this.#deliver(outcome);
    if (this.#finished || this.#remaining === 0)
      return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<unknown>> {
    this.#finish(new CancelledError('asCompleted: iteration stopped early'));
    return Promise.resolve({ value: undefined, done: true });
  }

  #start(): void {
    this.#started = true;
    const signal = this.#signal;
    if (signal?.aborted) return;
    if (signal) {
      this.#unsubscribe = onAbort(signal, (reason) => {
        for (const waiter of this.#waiters.splice(0)) waiter.reject(reason);
        this.#finish(reason);
      });
    }
    const factorySignal = () => {
      this.#controller ??= new AbortController();
      return this.#controller.signal;
    };
    for (const item of this.#items) {
      startItem(item, factorySignal).then(
        (value) => this.#settled({ ok: true, value }),
        (error) => this.#settled({ ok: false, error }),
      );
    }
    if (this.#items.length === 0) this.#finish(undefined);
  }

  #settled(outcome: Outcome): void {
    this.#remaining--;
    if (this.#finished) return;
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      this.#outcomes.push(outcome);
      return;
    }
    this.#deliver(outcome).then(waiter.resolve, waiter.reject);
  }

  #deliver(outcome: Outcome): Promise<IteratorResult<unknown>> {
    if (outcome.ok) {
      if (this.#remaining === 0 && this.#outcomes.length === 0) this.#finish(undefined);
      return Promise.resolve({ value: outcome.value, done: false });
    }
    this.#finish(new CancelledError('asCompleted: another item failed', { cause: outcome.error }));
    return Promise.reject(outcome.error);
  }

  #finish(reason: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#outcomes.length = 0;
    this.#unsubscribe?.();
    if (this.#remaining > 0) this.#controller?.abort(reason);
    for (const waiter of this.#waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
  }
}
