import type { ExecuteOptions } from '../cancel/policy.ts';
import type { FallbackOf, PolicyLike } from './compose.ts';
import { checkNumber, type Work } from './internal.ts';

export interface KeyedOptions {
  /**
   * The most policies kept; past it the least recently used is dropped (its state — an open
   * circuit, a drained bucket — is forgotten; calls in flight on it finish normally). Default
   * 1,000.
   */
  maxKeys?: number;
}

/**
 * One policy per key — a breaker and a limiter per host — created on first use by
 * `factory(key)` and kept in an LRU bounded by `maxKeys`, so a million hosts cannot grow memory
 * without bound.
 *
 * @example
 * const perHost = keyed((url: URL) => url.host, () => compose(rateLimit({ rate: 10 }), circuitBreaker()));
 * await perHost.execute(url, (signal) => fetch(url, { signal }), { signal });
 */
export class KeyedPolicy<I, P extends PolicyLike, K = unknown> {
  readonly maxKeys: number;
  readonly #keyFn: (input: I) => K;
  readonly #factory: (key: K) => P;
  readonly #policies = new Map<K, P>();
  #created = 0;
  #evicted = 0;

  constructor(keyFn: (input: I) => K, factory: (key: K) => P, options: KeyedOptions = {}) {
    if (typeof keyFn !== 'function') throw new TypeError('keyed: keyFn must be a function');
    if (typeof factory !== 'function') throw new TypeError('keyed: factory must be a function');
    this.maxKeys = checkNumber('keyed', 'maxKeys', options.maxKeys ?? 1_000, {
      min: 1,
      integer: true,
    });
    this.#keyFn = keyFn;
    this.#factory = factory;
  }

  /** Policies held now. */
  get size(): number {
    return this.#policies.size;
  }

  /** The policy for `input`'s key, created if needed; marks it most recently used. */
  get(input: I): P {
    const key = this.#keyFn(input);
    const policies = this.#policies;
    let policy = policies.get(key);
    if (policy !== undefined) {
      // Map keeps insertion order: re-inserting moves the key to the most recent end.
      policies.delete(key);
      policies.set(key, policy);
      return policy;
    }
    policy = this.#factory(key);
    if (policy === null || typeof policy !== 'object' || typeof policy.execute !== 'function') {
      throw new TypeError('keyed: factory must return a policy (an object with execute)');
    }
    this.#created++;
    policies.set(key, policy);
    if (policies.size > this.maxKeys) {
      policies.delete(policies.keys().next().value as K);
      this.#evicted++;
    }
    return policy;
  }

  /** The policy for a key if held, without creating it or touching its recency. */
  peek(key: K): P | undefined {
    return this.#policies.get(key);
  }

  /** Runs `fn` under the policy for `input`'s key. */
  execute<T>(input: I, fn: Work<T>, options?: ExecuteOptions): Promise<T | FallbackOf<P>> {
    let policy: P;
    try {
      policy = this.get(input);
    } catch (error) {
      return Promise.reject(error);
    }
    return policy.execute(fn, options) as Promise<T | FallbackOf<P>>;
  }

  /** Forgets a key's policy. */
  delete(key: K): boolean {
    return this.#policies.delete(key);
  }

  /** Keys held, least recently used first. */
  keys(): IterableIterator<K> {
    return this.#policies.keys();
  }

  stats(): { size: number; maxKeys: number; created: number; evicted: number } {
    return {
      size: this.#policies.size,
      maxKeys: this.maxKeys,
      created: this.#created,
      evicted: this.#evicted,
    };
  }
}

/** `new KeyedPolicy(keyFn, factory, options)`. */
export function keyed<I, P extends PolicyLike, K = unknown>(
  keyFn: (input: I) => K,
  factory: (key: K) => P,
  options?: KeyedOptions,
): KeyedPolicy<I, P, K> {
  return new KeyedPolicy(keyFn, factory, options);
}
