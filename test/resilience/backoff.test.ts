import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { constant, exponential } from '../../src/resilience/index.ts';

describe('exponential', () => {
  it('doubles from initialMs and stops at maxMs without jitter', () => {
    const b = exponential({ initialMs: 100, maxMs: 1_000, jitter: 'none' });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => b.delayMs(n)),
      [100, 200, 400, 800, 1_000, 1_000],
    );
  });

  it('spreads full jitter over [0, d] and equal jitter over [d/2, d]', () => {
    const low = () => 0;
    const high = () => 0.999_999;
    assert.equal(exponential({ initialMs: 100, random: low }).delayMs(3), 0);
    assert.ok(exponential({ initialMs: 100, random: high }).delayMs(3) > 399.99);
    assert.equal(exponential({ initialMs: 100, jitter: 'equal', random: low }).delayMs(3), 200);
  });

  it('uses full jitter by default', () => {
    const b = exponential({ initialMs: 1_000, random: () => 0.25 });
    assert.equal(b.delayMs(1), 250);
  });

  it('stays finite and within [0, maxMs] for any attempt up to 10,000 and beyond', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.double({ min: 1, max: 1e6, noNaN: true }),
        fc.constantFrom('full', 'equal', 'none' as const),
        fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.constant(2 ** 53), fc.constant(1e308)),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (initialMs, extra, factor, jitter, attempt, r) => {
          const maxMs = Math.min(2 ** 31 - 1, initialMs + extra);
          const b = exponential({ initialMs, maxMs, factor, jitter, random: () => r });
          const d = b.delayMs(attempt);
          return Number.isFinite(d) && d >= 0 && d <= maxMs;
        },
      ),
    );
  });

  it('never overflows when walked through 10,000 attempts one by one', () => {
    const b = exponential({ initialMs: 1, maxMs: 60_000, factor: 10, jitter: 'none' });
    for (let attempt = 1; attempt <= 10_000; attempt++) {
      const d = b.delayMs(attempt);
      assert.ok(Number.isFinite(d) && d >= 0 && d <= 60_000, `attempt ${attempt}: ${d}`);
    }
    assert.equal(b.delayMs(10_000), 60_000);
  });

  it('keeps delays in bounds even when the random source misbehaves', () => {
    for (const r of [Number.NaN, -1, 2, Number.POSITIVE_INFINITY]) {
      const d = exponential({ initialMs: 100, maxMs: 100, random: () => r }).delayMs(1);
      assert.ok(d >= 0 && d <= 100, `random ${r} gave ${d}`);
    }
  });

  it('rejects options that cannot make sense, naming the option', () => {
    assert.throws(() => exponential({ initialMs: -1 }), /initialMs/);
    assert.throws(() => exponential({ factor: 0.5 }), /factor/);
    assert.throws(
      () => exponential({ initialMs: 10, maxMs: 5 }),
      /initialMs \(10\) must be <= maxMs/,
    );
    assert.throws(() => exponential({ jitter: 'half' as 'full' }), /jitter/);
  });
});

describe('constant', () => {
  it('returns the same delay for every attempt', () => {
    const b = constant(250);
    assert.deepEqual(
      [1, 2, 10_000].map((n) => b.delayMs(n)),
      [250, 250, 250],
    );
  });
});
