import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pipeline } from '../../src/pipeline.ts';
import { deferred, failOnUnhandledRejections } from '../support/helpers.ts';
import { range } from './support.ts';

failOnUnhandledRejections();

/** A stage function that waits until released, or until its signal aborts. */
function gated() {
  const release = deferred();
  const entered: number[] = [];
  const someoneEntered = deferred();
  const fn = (x: number, ctx: { signal: AbortSignal }) => {
    entered.push(x);
    someoneEntered.resolve();
    return new Promise<number>((resolve, reject) => {
      if (ctx.signal.aborted) return reject(ctx.signal.reason);
      const onAbort = () => reject(ctx.signal.reason);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      release.promise.then(() => {
        ctx.signal.removeEventListener('abort', onAbort);
        resolve(x);
      });
    });
  };
  return { fn, release, entered, someoneEntered };
}

describe('shutdown', () => {
  it('an already-aborted signal reads nothing and reports interrupted', async () => {
    let pulled = 0;
    function* source() {
      for (;;) {
        pulled++;
        yield 1;
      }
    }
    const report = await pipeline({ name: 'pre' })
      .from(source())
      .to('sink', () => {})
      .run({ signal: AbortSignal.abort() });
    assert.equal(pulled, 0);
    assert.deepEqual([report.totals.read, report.totals.interrupted], [0, true]);
  });

  it('the first abort drains in-flight items; the drain timeout aborts the stages', async () => {
    const g = gated();
    const stop = new AbortController();
    const run = pipeline({ name: 'drain' })
      .from(range(1000))
      .map('gate', g.fn, { concurrency: 2, buffer: 2 })
      .to('sink', () => {})
      .run({ signal: stop.signal, drainTimeoutMs: 60_000 });
    await g.someoneEntered.promise;
    stop.abort();
    g.release.resolve(); // the in-flight items finish after the stop
    const report = await run;
    assert.equal(report.totals.interrupted, true);
    assert.equal(report.totals.pending, 0);
    assert.equal(report.totals.ok, report.totals.read);
    assert.ok(report.totals.read <= 1 + 2 + 2, `read ${report.totals.read}`);

    const stuck = gated();
    const stop2 = new AbortController();
    const run2 = pipeline({ name: 'timeout' })
      .from(range(1000))
      .map('gate', stuck.fn, { concurrency: 2, buffer: 2 })
      .to('sink', () => {})
      .run({ signal: stop2.signal, drainTimeoutMs: 1 });
    await stuck.someoneEntered.promise;
    stop2.abort();
    const report2 = await run2; // never released: only the timeout can end it
    assert.equal(report2.totals.interrupted, true);
    assert.equal(report2.totals.ok, 0);
    assert.equal(report2.totals.pending, report2.totals.read);
  });

  it('a stop while the source is waiting for its next item (an idle stdin) ends the read', async () => {
    const stop = new AbortController();
    const asked = deferred();
    let calls = 0;
    // Two items, then a next() that never settles — as a pipe with nothing more to say.
    const idle: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          calls++;
          if (calls <= 2) return Promise.resolve({ done: false, value: calls });
          asked.resolve();
          return new Promise<IteratorResult<number>>(() => {});
        },
      }),
    };
    const written: unknown[] = [];
    const run = pipeline({ name: 'idle-source' })
      .from(idle)
      .to('sink', (batch) => {
        written.push(...batch.map((r) => r.value));
      })
      .run({ signal: stop.signal });
    await asked.promise;
    stop.abort(new Error('stop'));
    const report = await run;
    assert.deepEqual(written, [1, 2]);
    assert.equal(report.totals.read, 2);
    assert.equal(report.totals.interrupted, true);
  });

  it('handleSignals: SIGTERM drains, a second one stops now; listeners exist only during run()', async () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const g = gated();
    const run = pipeline({ name: 'signals' })
      .from(range(1000))
      .map('gate', g.fn, { concurrency: 2 })
      .to('sink', () => {})
      .run({ handleSignals: true });
    await g.someoneEntered.promise;
    assert.deepEqual(
      [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')],
      [before[0]! + 1, before[1]! + 1],
    );
    process.emit('SIGTERM', 'SIGTERM'); // drain: would wait for the gate
    process.emit('SIGINT', 'SIGINT'); // now: the stages are aborted
    const report = await run;
    assert.equal(report.totals.interrupted, true);
    assert.equal(report.totals.ok, 0);
    assert.equal(report.totals.read, report.totals.pending);
    assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], before);
  });
});
