import type { ExecuteOptions } from '../cancel/policy.ts';
import { callerSignal, executeError, NEVER, type Work } from './internal.ts';

/**
 * Anything with the one contract: `timeout(ms)` from cancel/, every policy here, a composed
 * policy, or your own.
 */
export interface PolicyLike {
  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<unknown>;
}

/** The value type a policy may resolve with instead of the work's (a `fallback`'s `F`). */
export type FallbackOf<P> = P extends { readonly fallbackType: infer F } ? F : never;

/**
 * Policies nested into one: `compose(a, b, c).execute(fn)` is
 * `a.execute((s) => b.execute((s) => c.execute(fn, { signal: s }), { signal: s }))`.
 * The first is outermost. The result type is the work's, widened by any fallback's value.
 */
export class ComposedPolicy<F = never> {
  declare readonly fallbackType: F;
  readonly policies: readonly PolicyLike[];

  constructor(policies: readonly PolicyLike[]) {
    policies.forEach((policy, i) => {
      if (policy === null || typeof policy !== 'object' || typeof policy.execute !== 'function') {
        throw new TypeError(`compose: argument ${i + 1} is not a policy (no execute method)`);
      }
    });
    this.policies = Object.freeze([...policies]);
  }

  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T | F> {
    const signal = callerSignal(options?.signal);
    const invalid = executeError('compose.execute', fn, signal);
    if (invalid !== undefined) return Promise.reject(invalid);
    return this.#layer(0, fn, signal) as Promise<T | F>;
  }

  #layer<T>(
    i: number,
    fn: Work<T>,
    signal: AbortSignal | undefined,
  ): Promise<unknown> | T | PromiseLike<T> {
    const policies = this.policies;
    if (i === policies.length) return fn(signal ?? NEVER);
    // Each layer hands the next the signal it controls; NEVER ("no signal") is passed on as
    // undefined, so policies outside resilience/ (timeout) don't subscribe to it.
    return policies[i]!.execute(
      (inner) => this.#layer(i + 1, fn, inner === NEVER ? undefined : inner),
      signal === undefined ? undefined : { signal },
    );
  }
}

/** Composes policies, the first outermost. `compose()` with none just runs the work. */
export function compose<const P extends readonly PolicyLike[]>(
  ...policies: P
): ComposedPolicy<FallbackOf<P[number]>> {
  return new ComposedPolicy(policies);
}
