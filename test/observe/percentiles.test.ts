import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import { DurationHistogram } from '../../src/observe/percentiles.ts';

/** The library's histogram, each value recorded directly: what DurationHistogram must match. */
function direct(values: readonly number[]) {
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 32,
    useWebAssembly: false,
  });
  for (const us of values) h.recordValue(us);
  const max = h.maxValue;
  const at = (p: number) => Math.min(h.getValueAtPercentile(p), max) / 1e6;
  return {
    count: h.totalCount,
    mean: h.mean / 1e6,
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: max / 1e6,
  };
}

/** A deterministic spread over every bucket: 0 µs, powers of two and their neighbours, one hour. */
function values(): number[] {
  const out = [0, 1, 2, 3, 1023, 1024, 1025, 2047, 2048, 2049, 3_600_000_000];
  for (let k = 1; k < 32; k++) {
    const p = 2 ** k;
    for (const v of [p - 1, p, p + 1]) if (v <= 3_600_000_000) out.push(v);
  }
  let x = 12345;
  for (let i = 0; i < 5000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.push(x % 50_000_000);
  }
  return out;
}

test('DurationHistogram reports what recording every value into hdr-histogram-js reports', () => {
  const all = values();
  const h = new DurationHistogram();
  for (const us of all) h.recordSeconds(us / 1e6);
  assert.equal(h.count, all.length);
  assert.deepEqual(h.stats(), direct(all));
});

test('DurationHistogram: figures read mid-way and records after them add up', () => {
  const all = values();
  const h = new DurationHistogram();
  const half = all.length >> 1;
  for (const us of all.slice(0, half)) h.recordSeconds(us / 1e6);
  assert.deepEqual(h.stats(), direct(all.slice(0, half)));
  for (const us of all.slice(half)) h.recordSeconds(us / 1e6);
  assert.deepEqual(h.stats(), direct(all));
  assert.equal(h.count, all.length);
});

test('DurationHistogram keeps max and min exact within one sub-bucket', () => {
  const h = new DurationHistogram();
  // 10_000_001 and 10_000_003 µs share a sub-bucket (8 µs wide there).
  h.recordMs(10_000.001);
  h.recordMs(10_000.003);
  const s = h.stats();
  assert.equal(s.max, 10.000003);
  assert.deepEqual(s, direct([10_000_001, 10_000_003]));
});

test('DurationHistogram past its pending bound still counts every value', () => {
  const h = new DurationHistogram();
  const n = 70_000;
  for (let i = 0; i < n; i++) h.recordMs(i % 100);
  assert.equal(h.count, n);
  const expected: number[] = [];
  for (let i = 0; i < n; i++) expected.push((i % 100) * 1000);
  assert.deepEqual(h.stats(), direct(expected));
});

test('DurationHistogram.reset drops pending and recorded values', () => {
  const h = new DurationHistogram();
  h.recordMs(5);
  h.stats();
  h.recordMs(7);
  h.reset();
  assert.equal(h.count, 0);
  assert.deepEqual(h.stats(), { count: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 });
  h.recordMs(3);
  assert.deepEqual(h.stats(), direct([3000]));
});
