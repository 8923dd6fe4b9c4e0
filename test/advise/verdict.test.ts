/** The decision rules on numbers alone (no processes). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CallFigures, Stat } from '../../src/advise/index.ts';
import { decide } from '../../src/advise/verdict.ts';

const s = (v: number): Stat => ({ median: v, mean: v, p95: v, min: v, max: v });
const calls = (
  wall: number,
  cpu: number,
  blocked: number,
  elu: number,
  rq = 0,
  childCpu = 0,
): CallFigures => ({
  wallMs: s(wall),
  cpuMs: s(cpu),
  blockedMs: s(blocked),
  runQueueMs: s(rq),
  elu: s(elu),
  childCpuMs: childCpu,
});
const memory = { retainedBytes: 0, growthBytesPerCall: 0, leak: false, limitMb: 1024 };
const transfer = (cloneMs: number) => ({
  argsBytes: 10,
  resultBytes: 10,
  cloneMs,
  cloneable: true,
  error: null,
});
const base = { memory, failure: null, timeoutMs: 10_000, cores: 2, concurrency: 64 };

describe('advise: decision rules', () => {
  it('a CPU-bound call on 2 cores: thread, about 2x', () => {
    const { verdict, estimate } = decide({
      ...base,
      calls: calls(40, 39, 40, 1),
      transfer: transfer(0.01),
    });
    assert.equal(verdict.lane, 'thread');
    assert.equal(verdict.kind, 'cpu');
    assert.ok(estimate!.speedup > 1.9 && estimate!.speedup <= 2, String(estimate!.speedup));
  });

  it('a CPU-bound call on 1 core still leaves the loop when it blocks for long', () => {
    const { verdict } = decide({
      ...base,
      cores: 1,
      calls: calls(40, 39, 40, 1),
      transfer: transfer(0.01),
    });
    assert.equal(verdict.lane, 'thread');
  });

  it('a wait without CPU: thread with more threads than cores, and the note', () => {
    const { verdict, estimate } = decide({
      ...base,
      calls: calls(50, 0.2, 50, 1),
      transfer: transfer(0.01),
    });
    assert.equal(verdict.kind, 'blocking');
    assert.equal(estimate!.threads, 16);
    assert.equal(verdict.notes.length, 1);
  });

  it('stretches net of run-queue waits decide, and a busy machine is reported', () => {
    const { verdict } = decide({
      ...base,
      calls: calls(60, 20, 20, 1, 40),
      transfer: transfer(0.01),
    });
    assert.equal(verdict.kind, 'cpu');
    assert.ok(verdict.warnings.some((w) => /machine was busy/.test(w)));
  });

  it('a long async wait with short stretches: loop', () => {
    const { verdict, estimate } = decide({
      ...base,
      calls: calls(100, 0.5, 0.3, 0.01),
      transfer: transfer(0.01),
    });
    assert.equal(verdict.lane, 'loop');
    assert.equal(estimate!.speedup, 1);
  });

  it('regression: a 1.5 ms stretch in a 12 ms mostly-idle call is io-wait (httpGets on a loaded machine)', () => {
    const { verdict, estimate } = decide({
      ...base,
      calls: calls(12, 1, 1.5, 0.2),
      transfer: transfer(0.01),
    });
    assert.equal(verdict.lane, 'loop', verdict.reason);
    assert.equal(verdict.kind, 'io-wait');
    assert.ok(estimate!.lanes.loop > estimate!.lanes.thread);
  });

  it('a mostly-idle call counts run-queue waits as idle: 55% loop busy, 4 of 12 ms waiting for a core', () => {
    const { verdict } = decide({
      ...base,
      calls: calls(12, 1, 1.5, 0.55, 4),
      transfer: transfer(0.01),
    });
    assert.equal(verdict.kind, 'io-wait', verdict.reason);
  });

  it('a mostly-idle call whose stretch hurts responsiveness is not io-wait', () => {
    const { verdict } = decide({
      ...base,
      calls: calls(40, 12, 12, 0.3),
      transfer: transfer(0.01),
    });
    assert.notEqual(verdict.kind, 'io-wait', verdict.reason);
    assert.ok(verdict.warnings.some((w) => /holds the loop for 12\.0 ms at a time/.test(w)));
  });

  it('a 1.5 ms stretch in a mostly-busy call is not io-wait', () => {
    const { verdict } = decide({
      ...base,
      calls: calls(12, 9, 1.5, 0.8),
      transfer: transfer(0.01),
    });
    assert.notEqual(verdict.kind, 'io-wait', verdict.reason);
  });

  it('a CPU-bound call where 2 threads got 1.2 cores measured: the estimate is 1.2x, and says why', () => {
    const { verdict, estimate } = decide({
      ...base,
      parallelism: 1.2,
      calls: calls(40, 39, 40, 1),
      transfer: transfer(0.01),
    });
    assert.equal(estimate!.parallelism, 1.2);
    assert.equal(estimate!.threads, 2);
    assert.ok(Math.abs(estimate!.speedup - 1.2) < 0.01, String(estimate!.speedup));
    assert.equal(verdict.lane, 'thread', verdict.reason);
    assert.ok(verdict.warnings.some((w) => /got 1\.2 cores' worth of CPU \(measured\)/.test(w)));
  });

  it('one core measured: a CPU-bound call that holds the loop 40 ms still moves, claiming no speedup', () => {
    const { verdict, estimate } = decide({
      ...base,
      parallelism: 1,
      calls: calls(40, 39, 40, 1),
      transfer: transfer(0.01),
    });
    assert.equal(verdict.lane, 'thread');
    assert.ok(estimate!.speedup < 1.05, String(estimate!.speedup));
    assert.match(verdict.reason, /keep the loop free at about the same calls per second/);
  });

  it('a CPU clock that misses stolen time does not raise a CPU-bound estimate past the cores', () => {
    // Medians from different calls: the longest stretch (44 ms) above wall net of run queue (36).
    const { estimate } = decide({
      ...base,
      calls: calls(40, 30, 44, 1, 4),
      transfer: transfer(0.01),
    });
    assert.ok(estimate!.speedup <= 2, String(estimate!.speedup));
  });

  it("a blocking call's child processes' CPU caps its thread estimate", () => {
    const without = decide({ ...base, calls: calls(44, 1.4, 44, 1), transfer: transfer(0.01) });
    const withChildren = decide({
      ...base,
      calls: calls(44, 1.4, 44, 1, 0, 20),
      transfer: transfer(0.01),
    });
    assert.equal(withChildren.verdict.kind, 'blocking');
    // 2 cores / 21.4 ms of CPU a call = 93 calls/s, against 22.7 on the loop.
    assert.ok(Math.abs(withChildren.estimate!.speedup - 2000 / 21.4 / (1000 / 44)) < 0.05);
    assert.ok(without.estimate!.speedup > 2 * withChildren.estimate!.speedup);
  });

  it('the transfer costs more than the work: loop with a warning', () => {
    const { verdict } = decide({ ...base, calls: calls(5, 5, 5, 1), transfer: transfer(20) });
    assert.equal(verdict.kind, 'transfer-bound');
    assert.equal(verdict.warnings.length, 1);
  });

  it('a leak goes to a process even when it computes', () => {
    const { verdict } = decide({
      ...base,
      memory: { ...memory, leak: true, growthBytesPerCall: 16e6 },
      calls: calls(40, 39, 40, 1),
      transfer: transfer(0.01),
    });
    assert.equal(verdict.lane, 'process');
    assert.equal(verdict.kind, 'leak');
  });
});
