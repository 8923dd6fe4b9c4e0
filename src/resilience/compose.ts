import {
  type Cancellation,
  type CancellationAware,
  type ExecuteOptions,
  executeIn,
  realSignal,
} from '../cancel/policy.ts';
import { callerSignal, executeError, NEVER, type Work } from './internal.ts';

/**
 * Anything with the one contract: `timeout(ms)` from cancel/, every policy here, a composed
 * policy, or your own.
 */
export interface PolicyLike {
  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<unknown>;
}

type Step = (next: (c: Cancellation) => unknown, c: Cancellation) => unknown;

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
  /** Each layer as `(next, cancellation)`: its `executeIn`, or `execute` with a real signal. */
  readonly #steps: readonly Step[];

  constructor(policies: readonly PolicyLike[]) {
    policies.forEach((policy, i) => {
      if (policy === null || typeof policy !== 'object' || typeof policy.execute !== 'function') {
        throw new TypeError(`compose: argument ${i + 1} is not a policy (no execute method)`);
      }
    });
    this.policies = Object.freeze([...policies]);
    this.#steps = this.policies.map((policy) => {
      const aware = (policy as Partial<CancellationAware>)[executeIn];
      if (typeof aware === 'function') return aware.bind(policy) as Step;
      return (next: (c: Cancellation) => unknown, c: Cancellation) => {
        const signal = realSignal(c);
        return policy.execute(
          (s: AbortSignal | undefined) => (s?.aborted ? Promise.reject(s.reason) : next(s)),
          signal === undefined ? undefined : { signal },
        );
      };
    });
  }

  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T | F> {
    const signal = callerSignal(options?.signal);
    const invalid = executeError('compose.execute', fn, signal);
    if (invalid !== undefined) return Promise.reject(invalid);
    return this.#layer(0, fn, signal, false) as Promise<T | F>;
  }

  /** @internal A composed policy nested in another `compose()`. */
  [executeIn]<T>(next: (c: Cancellation) => T | PromiseLike<T>, c: Cancellation): Promise<T> {
    return Promise.resolve(this.#layer(0, next, c, true)) as Promise<T>;
  }

  /**
   * Runs layer `i` around the rest. Layers of switchyard's own (`executeIn`) pass a
   * `Cancellation` down: a timeout's signal stays deferred until some layer waits or the work
   * asks for it. Other policies get a real signal. `inner` is whether `fn` is an outer
   * compose's continuation (it takes the cancellation as it is) rather than the user's work.
   */
  #layer(
    i: number,
    fn: (c: never) => unknown,
    c: Cancellation,
    inner: boolean,
  ): Promise<unknown> | unknown {
    const policies = this.policies;
    if (i === policies.length) {
      if (inner) return (fn as (c: Cancellation) => unknown)(c);
      const work = fn as Work<unknown>;
      if (c === undefined) return work(NEVER);
      if (c instanceof AbortSignal) return work(c);
      // A timeout's deferred signal: work that declares no parameter cannot read it, so it is
      // not made for it (the rule of `TaskGroup.spawn`).
      return work(work.length === 0 ? NEVER : c.signal);
    }
    return this.#steps[i]!(
      (s: Cancellation) => this.#layer(i + 1, fn, s === NEVER ? undefined : s, inner),
      c,
    );
  }
}

/** Composes policies, the first outermost. `compose()` with none just runs the work. */
export function compose<const P extends readonly PolicyLike[]>(
  ...policies: P
): ComposedPolicy<FallbackOf<P[number]>> {
  return new ComposedPolicy(policies);
}
