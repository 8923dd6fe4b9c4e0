import { onAbort } from '../cancel/on-abort.ts';
import { durationError, signalError } from '../cancel/options.ts';
import { sleep } from '../cancel/sleep.ts';

/**
 * Where a policy gets its time from. Every policy takes a `clock` option; the default is
 * `systemClock`. Tests pass a `TestClock` and move time by hand, so no test waits on the wall
 * clock and every timing decision (backoff, half-open, refill, latency) is deterministic.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale; only differences matter. */
  now(): number;
  /**
   * Resolves after `ms`; an abort of `signal` rejects with `signal.reason` and leaves nothing
   * behind (the contract of `sleep` in cancel/).
   */
  sleep(ms: number, options?: { signal?: AbortSignal | undefined }): Promise<void>;
}

/** `performance.now()` (monotonic: a wall-clock jump never opens or closes a circuit) and `sleep`. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  sleep,
});

interface Sleeper {
  at: number;
  seq: number;
  resolve: () => void;
  unsubscribe: (() => void) | undefined;
}

/**
 * A clock that only moves when told to, for tests (trio's MockClock). `advance(ms)` wakes every
 * sleeper due in order, and lets the work each wakes run (and sleep again) before moving on,
 * so a whole timeline of retries, probes and refills plays out in one call.
 *
 * @example
 * const clock = new TestClock();
 * const p = retry({ attempts: 3, clock }).execute(flaky);
 * await clock.advance(10_000);
 */
export class TestClock implements Clock {
  #now: number;
  #seq = 0;
  #sleepers: Sleeper[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** How many sleeps are pending. */
  get pending(): number {
    return this.#sleepers.length;
  }

  /** When the next sleeper is due, or `undefined` if none sleeps. */
  get nextAt(): number | undefined {
    return this.#sleepers[0]?.at;
  }

  sleep(ms: number, options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    const { signal } = options;
    const invalid =
      durationError('TestClock.sleep', 'ms', ms, { allowInfinity: true }) ??
      signalError('TestClock.sleep', signal);
    if (invalid) return Promise.reject(invalid);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const sleeper: Sleeper = {
        at: this.#now + ms,
        seq: this.#seq++,
        resolve,
        unsubscribe: undefined,
      };
      this.#insert(sleeper);
      if (signal) {
        sleeper.unsubscribe = onAbort(signal, (reason) => {
          const at = this.#sleepers.indexOf(sleeper);
          if (at !== -1) this.#sleepers.splice(at, 1);
          reject(reason);
        });
      }
    });
  }

  /**
   * Moves time forward by `ms`, waking sleepers in due order. After each wake it lets the event
   * loop turn once (`setImmediate`: every microtask chain settles), so sleeps started by the
   * woken work are honoured within the same advance.
   */
  async advance(ms: number): Promise<void> {
    const invalid = durationError('TestClock.advance', 'ms', ms);
    if (invalid) throw invalid;
    await this.#flush();
    const target = this.#now + ms;
    for (;;) {
      const next = this.#sleepers[0];
      if (next === undefined || next.at > target) break;
      this.#now = Math.max(this.#now, next.at);
      // Wake everyone due at this instant, then let them run.
      while (this.#sleepers[0] !== undefined && this.#sleepers[0].at <= this.#now) {
        const sleeper = this.#sleepers.shift()!;
        sleeper.unsubscribe?.();
        sleeper.resolve();
      }
      await this.#flush();
    }
    this.#now = target;
    await this.#flush();
  }

  /** Advances to the next sleeper's due time (and wakes it); false if nobody sleeps. */
  async next(): Promise<boolean> {
    const at = this.nextAt;
    if (at === undefined || at === Number.POSITIVE_INFINITY) return false;
    await this.advance(at - this.#now);
    return true;
  }

  #insert(sleeper: Sleeper): void {
    const list = this.#sleepers;
    let i = list.length;
    while (i > 0 && list[i - 1]!.at > sleeper.at) i--;
    list.splice(i, 0, sleeper);
  }

  #flush(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }
}
