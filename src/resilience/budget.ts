import { type Clock, systemClock } from './clock.ts';
import { checkNumber } from './internal.ts';
import { RollingWindow } from './rolling-window.ts';

export interface RetryBudgetOptions {
  /** Retries allowed per call made, over the window. Default 0.2 (at most 20% extra load). */
  ratio?: number;
  /** The window the ratio is measured over. Default 10,000. */
  windowMs?: number;
  /** Retries always allowed per window, so a quiet service can still retry. Default 10. */
  minRetries?: number;
  clock?: Clock;
}

/**
 * A retry budget (Finagle's RetryBudget, gRPC's retry throttling): retries may add at most
 * `ratio` × calls (+ `minRetries`) in any window. Per-call attempt limits cap one call; a budget
 * caps the fleet, so a downstream that fails everything gets ~1.2× its normal load instead of
 * `attempts`×. Share one budget between the retry policies that hit the same downstream.
 */
export class RetryBudget {
  readonly ratio: number;
  readonly minRetries: number;
  readonly #window: RollingWindow;

  constructor(options: RetryBudgetOptions = {}) {
    const where = 'RetryBudget';
    this.ratio = checkNumber(where, 'ratio', options.ratio ?? 0.2);
    this.minRetries = checkNumber(where, 'minRetries', options.minRetries ?? 10, { integer: true });
    const windowMs = checkNumber(where, 'windowMs', options.windowMs ?? 10_000, {
      min: 0,
      minExclusive: true,
    });
    this.#window = new RollingWindow(options.clock ?? systemClock, windowMs);
  }

  /** Records a first attempt (a call). */
  recordCall(): void {
    this.#window.add(1, 0);
  }

  /** Takes one retry from the budget if there is one left; false means do not retry. */
  tryRetry(): boolean {
    const [calls, retries] = this.#window.totals();
    if (retries >= this.minRetries + this.ratio * calls) return false;
    this.#window.add(0, 1);
    return true;
  }

  /** Calls and retries within the window. */
  stats(): { calls: number; retries: number } {
    const [calls, retries] = this.#window.totals();
    return { calls, retries };
  }
}
