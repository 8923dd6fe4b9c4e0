/**
 * Random failure patterns, stage shapes and stop points, checked against the one invariant the
 * report promises — read = ok + failed + pending + skipped — and against the journal and the
 * sink: what the report says is what is on disk, and a resume finishes exactly the rest.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { pipeline, sqliteJournal } from '../../src/pipeline.ts';
import { constant, retry } from '../../src/resilience/index.ts';
import { failOnUnhandledRejections, nextTurn } from '../support/helpers.ts';
import { journalStates, range } from './support.ts';

failOnUnhandledRejections();

/** What stage s does to item i: 0 ok, 1 fails its first attempt only, 2 always fails. */
type Pattern = number[][];

const caseArb = fc
  .record({
    n: fc.integer({ min: 1, max: 120 }),
    stages: fc.array(
      fc.record({
        concurrency: fc.integer({ min: 1, max: 5 }),
        buffer: fc.integer({ min: 1, max: 6 }),
        ordered: fc.boolean(),
        async: fc.boolean(),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    batchSize: fc.integer({ min: 1, max: 10 }),
    stopAfter: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined }),
    hard: fc.boolean(),
    seed: fc.integer(),
  })
  .map((c) => {
    let x = c.seed >>> 0 || 1;
    const rand = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
    const pattern: Pattern = c.stages.map(() =>
      Array.from({ length: c.n }, () => {
        const r = rand();
        return r < 0.1 ? 2 : r < 0.25 ? 1 : 0;
      }),
    );
    return { ...c, pattern };
  });

describe('reconciliation (property)', () => {
  it('read = ok + failed + pending + skipped, the journal agrees, and a resume finishes the rest', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const journal = sqliteJournal(':memory:', { commitEvery: 7, commitIntervalMs: 5 });
        try {
          const sunk = new Map<number, number>();
          const stop = new AbortController();
          let writes = 0;
          const build = () => {
            let p = pipeline({ name: 'prop', journal }).from(range(c.n));
            c.stages.forEach((shape, s) => {
              p = p.map(
                `s${s}`,
                async (x: number, ctx) => {
                  if (shape.async) await nextTurn();
                  const what = c.pattern[s]![x]!;
                  if (what === 2 || (what === 1 && ctx.attempt === 1)) {
                    throw new RangeError(`s${s} item ${x}`);
                  }
                  return x;
                },
                {
                  concurrency: shape.concurrency,
                  buffer: shape.buffer,
                  ordered: shape.ordered,
                  policy: retry({ attempts: 2, backoff: constant(0) }),
                },
              );
            });
            return p.to(
              'sink',
              async (batch) => {
                await nextTurn();
                for (const r of batch)
                  sunk.set(r.key as number, (sunk.get(r.key as number) ?? 0) + 1);
                writes += batch.length;
                if (c.stopAfter !== undefined && writes >= c.stopAfter) stop.abort();
              },
              { batchSize: c.batchSize },
            );
          };
          const first = await build().run({
            signal: stop.signal,
            drainTimeoutMs: c.hard ? 0 : 30_000,
          });
          const t = first.totals;
          assert.equal(t.read, t.ok + t.failed + t.pending + t.skipped);
          assert.equal(t.skipped, 0);
          const states = journalStates(journal.database, 'prop');
          assert.equal(states.done ?? 0, t.ok);
          assert.equal(states.failed ?? 0, t.failed);
          assert.equal(states.pending ?? 0, t.pending);
          assert.equal(states.leased, undefined);
          assert.equal(sunk.size, t.ok);
          assert.equal(first.deadLetters.length, t.failed);
          if (!c.hard) assert.equal(t.pending, 0, 'a graceful stop drains what was read');
          if (!t.interrupted) assert.equal(t.read, c.n);
          for (const [i, s] of first.stages.entries()) {
            assert.ok(s.ok + s.failed <= s.in, `stage ${i}: ok + failed <= in`);
            assert.equal(s.inflight, 0);
          }

          const second = await build().run();
          const u = second.totals;
          assert.equal(u.read, c.n);
          assert.equal(u.skipped, t.ok + t.failed);
          assert.equal(u.read, u.ok + u.failed + u.pending + u.skipped);
          assert.equal(u.pending, 0);
          const failing = new Set(
            [...range(c.n)].filter((i) => c.pattern.some((stage) => stage[i] === 2)),
          );
          assert.equal(t.failed + u.failed, failing.size);
          assert.equal(sunk.size, c.n - failing.size);
          for (const i of failing) assert.equal(sunk.has(i), false);
          assert.deepEqual(journalStates(journal.database, 'prop'), {
            ...(c.n - failing.size > 0 ? { done: c.n - failing.size } : {}),
            ...(failing.size > 0 ? { failed: failing.size } : {}),
          });
        } finally {
          journal.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
