import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pipeline } from '../../src/pipeline.ts';
import { deferred, failOnUnhandledRejections, nextTurn, turns } from '../support/helpers.ts';

failOnUnhandledRejections();

describe('backpressure', () => {
  it('never pulls more than written + buffers + concurrencies (+ the sink batch, + the one being put)', async () => {
    const stages = [
      { concurrency: 3, buffer: 5 },
      { concurrency: 2, buffer: 4 },
    ];
    const batchSize = 8;
    // Reader's item + each stage's channel and workers + the sink's channel and its batch.
    const bound = 1 + stages.reduce((s, x) => s + x.buffer + x.concurrency, 0) + 2 * batchSize;
    let pulled = 0;
    let written = 0;
    let worst = 0;
    function* source() {
      for (let i = 0; i < 2000; i++) {
        pulled++;
        worst = Math.max(worst, pulled - written);
        yield i;
      }
    }
    const report = await pipeline({ name: 'bp' })
      .from(source())
      .map('a', async (x) => x, stages[0])
      .map(
        'b',
        async (x) => {
          await nextTurn();
          return x;
        },
        stages[1],
      )
      .to(
        'slow',
        async (batch) => {
          await turns(3);
          written += batch.length;
        },
        { batchSize },
      )
      .run();
    assert.equal(report.totals.ok, 2000);
    assert.ok(worst <= bound, `at most ${bound} items between source and sink, saw ${worst}`);
    assert.ok(worst >= bound - 4, `the buffers fill up (worst ${worst}, bound ${bound})`);
  });

  it('a 1,000,000-item lazy source into a slow sink keeps memory flat; an abort stops it', async () => {
    const before = process.memoryUsage().rss;
    let pulled = 0;
    let written = 0;
    let worst = 0;
    let maxRss = 0;
    const stop = new AbortController();
    function* source() {
      for (let i = 0; i < 1_000_000; i++) {
        pulled++;
        worst = Math.max(worst, pulled - written);
        yield { id: i, payload: 'x'.repeat(1024) + i }; // ~1 KB each: 1 GB if it all piled up
      }
    }
    const report = await pipeline({ name: 'rss' })
      .from(source())
      .map('parse', (item) => ({ id: item.id, size: item.payload.length }), { concurrency: 16 })
      .map('enrich', async (item) => ({ ...item, ok: true }), { concurrency: 16 })
      .to(
        'slow',
        async (batch) => {
          await nextTurn();
          written += batch.length;
          if (written % 2048 < batch.length) maxRss = Math.max(maxRss, process.memoryUsage().rss);
          if (written >= 30_000) stop.abort();
        },
        { batchSize: 64 },
      )
      .run({ signal: stop.signal });
    const bound = 1 + (16 + 16) * 2 + 2 * 64;
    assert.equal(report.totals.interrupted, true);
    assert.ok(report.totals.read < 31_000, `stopped reading (read ${report.totals.read})`);
    assert.equal(report.totals.pending, 0);
    assert.ok(worst <= bound, `items in memory ${worst} <= ${bound}`);
    assert.ok(maxRss < 200 * 1024 * 1024, `RSS ${Math.round(maxRss / 2 ** 20)} MB < 200 MB`);
    assert.ok(
      maxRss - before < 64 * 1024 * 1024,
      `RSS grew ${Math.round((maxRss - before) / 2 ** 20)} MB while 30,000 KB-sized items went through`,
    );
  });

  it('an async source that never yields again is abandoned on stop, not awaited', async () => {
    const stop = new AbortController();
    let closed = false;
    const waiting = deferred();
    async function* source() {
      try {
        yield 1;
        waiting.resolve();
        await new Promise(() => {}); // waits for input that never comes
      } finally {
        closed = true;
      }
    }
    const written: unknown[] = [];
    const run = pipeline({ name: 'stuck-source' })
      .from(source())
      .to('sink', async (batch) => {
        written.push(...batch);
        await waiting.promise;
        stop.abort();
      })
      .run({ signal: stop.signal });
    const report = await run;
    assert.equal(report.totals.ok, 1);
    assert.equal(report.totals.interrupted, true);
    assert.equal(closed, false, 'a pending next() cannot be closed; it is left, not awaited');
  });
});
