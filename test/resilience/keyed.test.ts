import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CircuitOpenError,
  circuitBreaker,
  compose,
  fallback,
  keyed,
  rateLimit,
} from '../../src/resilience/index.ts';
import { failOnUnhandledRejections } from '../support/helpers.ts';

failOnUnhandledRejections();

const hostOf = (url: string) => new URL(url).host;

describe('keyed', () => {
  it('keeps one policy per key, so one host breaking leaves the others alone', async () => {
    const perHost = keyed(hostOf, () => circuitBreaker({ failureThreshold: 1 }));
    await assert.rejects(
      perHost.execute('http://a.test/1', async () => {
        throw new Error('a is down');
      }),
    );
    await assert.rejects(
      perHost.execute('http://a.test/2', async () => 'x'),
      CircuitOpenError,
    );
    assert.equal(await perHost.execute('http://b.test/1', async () => 'b'), 'b');
    assert.equal(perHost.get('http://a.test/3'), perHost.get('http://a.test/4'));
    assert.equal(perHost.size, 2);
  });

  it('evicts the least recently used key past maxKeys, so memory stays bounded', () => {
    const created: string[] = [];
    const perHost = keyed(
      hostOf,
      (host) => {
        created.push(host as string);
        return rateLimit({ rate: 1 });
      },
      { maxKeys: 2 },
    );
    perHost.get('http://a.test');
    perHost.get('http://b.test');
    perHost.get('http://a.test'); // a is now the most recent
    perHost.get('http://c.test'); // evicts b
    assert.deepEqual([...perHost.keys()], ['a.test', 'c.test']);
    assert.equal(perHost.peek('b.test'), undefined);
    perHost.get('http://b.test');
    assert.deepEqual(created, ['a.test', 'b.test', 'c.test', 'b.test']);
    assert.deepEqual(perHost.stats(), { size: 2, maxKeys: 2, created: 4, evicted: 2 });
  });

  it('holds at most maxKeys policies after a million distinct keys', () => {
    const perKey = keyed(
      (n: number) => n,
      () => fallback(0),
      { maxKeys: 100 },
    );
    for (let i = 0; i < 1_000_000; i++) perKey.get(i);
    assert.equal(perKey.size, 100);
    assert.equal(perKey.peek(999_999) !== undefined, true);
  });

  it('keeps the result type of the per-key policy, fallback included', async () => {
    const perKey = keyed(
      (k: string) => k,
      () => compose(fallback(null)),
    );
    const v: number | null = await perKey.execute('k', async () => {
      throw new Error('x');
    });
    assert.equal(v, null);
  });

  it('rejects rather than throws when the factory returns something that is not a policy', async () => {
    const perKey = keyed(
      (k: string) => k,
      () => ({}) as never,
    );
    await assert.rejects(
      perKey.execute('k', async () => 1),
      /factory must return a policy/,
    );
  });
});
