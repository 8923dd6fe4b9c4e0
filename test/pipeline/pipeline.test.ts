import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from '../../src/observe/index.ts';
import { PipelineError, pipeline } from '../../src/pipeline.ts';
import { constant, retry } from '../../src/resilience/index.ts';
import { deferred, failOnUnhandledRejections, nextTurn, turns } from '../support/helpers.ts';
import { range } from './support.ts';

failOnUnhandledRejections();

describe('pipeline: stages, order, policies, dead letters', () => {
  it('runs every item through every stage into the sink and reports per stage', async () => {
    const written: { key: unknown; value: unknown }[] = [];
    const report = await pipeline({ name: 'basic' })
      .from(range(100))
      .map('double', async (x) => x * 2, { concurrency: 3, buffer: 2 })
      .map('label', (x, ctx) => `${ctx.stage}:${ctx.key}:${x}`)
      .to('sink', (batch) => {
        written.push(...batch);
      })
      .run();
    assert.equal(written.length, 100);
    const byKey = new Map(written.map((r) => [r.key, r.value]));
    for (let i = 0; i < 100; i++) assert.equal(byKey.get(i), `label:${i}:${i * 2}`);
    assert.deepEqual(report.totals, {
      ...report.totals,
      read: 100,
      ok: 100,
      failed: 0,
      pending: 0,
      skipped: 0,
      interrupted: false,
    });
    assert.deepEqual(
      report.stages.map((s) => [s.name, s.in, s.ok, s.failed, s.inflight]),
      [
        ['double', 100, 100, 0, 0],
        ['label', 100, 100, 0, 0],
        ['sink', 100, 100, 0, 0],
      ],
    );
    for (const s of report.stages) {
      assert.ok(s.p50Ms <= s.p95Ms && s.p95Ms <= s.p99Ms, `${s.name} percentiles ordered`);
      assert.ok(s.throughputPerSec > 0);
    }
  });

  it('accepts async sources and sink objects, and uses key() as the item identity', async () => {
    async function* source() {
      for (const id of ['a', 'b', 'c']) yield { id };
    }
    const keys: unknown[] = [];
    const seen: unknown[] = [];
    await pipeline({ name: 'keyed' })
      .from(source(), { key: (item) => item.id })
      .map('id', (item, ctx) => {
        seen.push(ctx.key);
        return item.id.toUpperCase();
      })
      .to('sink', {
        write(batch) {
          for (const r of batch) keys.push([r.key, r.value]);
        },
      })
      .run();
    assert.deepEqual(seen.sort(), ['a', 'b', 'c']);
    assert.deepEqual(keys.sort(), [
      ['a', 'A'],
      ['b', 'B'],
      ['c', 'C'],
    ]);
  });

  it('ordered: true keeps input order when later items finish first; unordered does not wait', async () => {
    // Item i finishes when its gate opens; gates open in reverse order.
    const run = async (ordered: boolean) => {
      const n = 8;
      const gates = Array.from({ length: n }, () => deferred());
      const started = Array.from({ length: n }, () => deferred());
      const out: number[] = [];
      const p = pipeline({ name: `order-${ordered}` })
        .from(range(n))
        .map(
          'wait',
          async (x) => {
            started[x]!.resolve();
            await gates[x]!.promise;
            return x;
          },
          { concurrency: n, buffer: n, ordered },
        )
        .to(
          'sink',
          (batch) => {
            for (const r of batch) out.push(r.value);
          },
          { batchSize: 1 },
        )
        .run();
      await Promise.all(started.map((d) => d.promise));
      for (let i = n - 1; i >= 0; i--) {
        gates[i]!.resolve();
        await nextTurn();
      }
      await p;
      return out;
    };
    assert.deepEqual(await run(true), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(await run(false), [7, 6, 5, 4, 3, 2, 1, 0]);
  });

  it('ordered stages keep order with failures in between and many items', async () => {
    const out: number[] = [];
    const report = await pipeline({ name: 'order-many' })
      .from(range(500))
      .map(
        'jitter',
        async (x) => {
          await turns((x * 7) % 5);
          if (x % 50 === 3) throw new RangeError(`no ${x}`);
          return x;
        },
        { concurrency: 6, ordered: true },
      )
      .to('sink', (batch) => {
        for (const r of batch) out.push(r.value);
      })
      .run();
    const expected = [...range(500)].filter((x) => x % 50 !== 3);
    assert.deepEqual(out, expected);
    assert.equal(report.totals.failed, 10);
  });

  it('counts policy retries and gives ctx.attempt; an item that still fails is a dead letter', async () => {
    const calls = new Map<number, number[]>();
    const report = await pipeline({ name: 'retry' })
      .from(range(20))
      .map(
        'flaky',
        (x, ctx) => {
          const attempts = calls.get(x) ?? [];
          attempts.push(ctx.attempt);
          calls.set(x, attempts);
          if (x % 5 === 0) throw new TypeError(`always ${x}`); // 4 items fail all 3 attempts
          if (x % 2 === 1 && ctx.attempt === 1) throw new Error('once'); // 8 items retried once
          return x;
        },
        { policy: retry({ attempts: 3, backoff: constant(0) }) },
      )
      .to('sink', () => {})
      .run();
    const flaky = report.stages[0]!;
    assert.equal(flaky.retried, 4 * 2 + 8);
    assert.equal(flaky.failed, 4);
    assert.equal(flaky.ok, 16);
    assert.deepEqual(flaky.errorsByClass, { TypeError: 4 });
    assert.deepEqual(calls.get(5), [1, 2, 3]);
    assert.deepEqual(calls.get(3), [1, 2]);
    assert.deepEqual(
      report.deadLetters.map((d) => d.key).sort((a, b) => Number(a) - Number(b)),
      [0, 5, 10, 15],
    );
    assert.deepEqual(
      report.deadLetters.find((d) => d.key === 5),
      {
        key: 5,
        stage: 'flaky',
        errorClass: 'TypeError',
        message: 'always 5',
      },
    );
    assert.equal(report.totals.ok + report.totals.failed, report.totals.read);
  });

  it('a failing sink batch dead-letters its items under the sink name', async () => {
    const report = await pipeline({ name: 'bad-sink' })
      .from(range(10))
      .to(
        'sink',
        (batch) => {
          if (batch.some((r) => r.key === 4)) throw new SyntaxError('nope');
        },
        { batchSize: 1 },
      )
      .run();
    assert.equal(report.totals.failed, 1);
    assert.equal(report.totals.ok, 9);
    assert.deepEqual(report.deadLetters, [
      { key: 4, stage: 'sink', errorClass: 'SyntaxError', message: 'nope' },
    ]);
    assert.deepEqual(report.stages[0]!.errorsByClass, { SyntaxError: 1 });
  });

  it('a throwing key() dead-letters the item at the source, by position', async () => {
    const report = await pipeline({ name: 'bad-key' })
      .from(['a', 'b', 'c'], {
        key: (x) => {
          if (x === 'b') throw new Error('no key');
          return x;
        },
      })
      .to('sink', () => {})
      .run();
    assert.deepEqual(report.deadLetters, [
      { key: 1, stage: 'source', errorClass: 'Error', message: 'no key' },
    ]);
    assert.deepEqual([report.totals.read, report.totals.ok, report.totals.failed], [3, 2, 1]);
  });

  it('lane "pool" calls fn(item, { signal }) — the RunOptions a pool module handle takes', async () => {
    const seen: unknown[] = [];
    const handleMethod = async (item: number, options?: { signal?: AbortSignal }) => {
      seen.push(Object.keys(options ?? {}));
      return item + 1;
    };
    await pipeline({ name: 'lane' })
      .from([1, 2])
      .map('pool', handleMethod, { lane: 'pool' })
      .to('sink', () => {})
      .run();
    assert.deepEqual(seen, [['signal'], ['signal']]);
  });

  it('a keyed policy gets the stage key() as its input', async () => {
    const inputs: unknown[] = [];
    const policy = {
      execute<T>(
        input: unknown,
        fn: (signal: AbortSignal) => T,
        options?: { signal?: AbortSignal },
      ) {
        inputs.push(input);
        return Promise.resolve(fn(options!.signal!));
      },
    };
    await pipeline({ name: 'keyed-policy' })
      .from(['http://a/1', 'http://b/2'])
      .map('fetch', (url) => url, { policy, key: (url) => new URL(url).host, concurrency: 1 })
      .to('sink', () => {})
      .run();
    assert.deepEqual(inputs, ['a', 'b']);
  });

  it('records every stage into metrics under its name', async () => {
    const metrics = new Metrics();
    await pipeline({ name: 'metrics', metrics })
      .from(range(30))
      .map('one', (x) => {
        if (x === 3) throw new Error('x');
        return x;
      })
      .to('out', () => {}, { batchSize: 10 })
      .run();
    const { components } = metrics.snapshot();
    assert.equal(components.one!.tasks.ok, 29);
    assert.equal(components.one!.tasks.error, 1);
    assert.ok(components.out!.tasks.total >= 3);
    assert.equal(components.one!.inflight, 0);
  });

  it('rejects with PipelineError (report attached) when the source throws', async () => {
    function* broken() {
      yield 1;
      yield 2;
      throw new Error('disk gone');
    }
    const written: unknown[] = [];
    const error = await pipeline({ name: 'broken' })
      .from(broken())
      .to('sink', (batch) => {
        written.push(...batch.map((r) => r.value));
      })
      .run()
      .then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof PipelineError);
    assert.equal(error.code, 'ERR_SWITCHYARD_PIPELINE');
    assert.equal(
      (error.cause as TaskGroupErrorLike).errors?.[0]?.message ?? (error.cause as Error).message,
      'disk gone',
    );
    const t = error.report.totals;
    assert.equal(t.read, t.ok + t.failed + t.pending + t.skipped);
  });

  it('batchWaitMs lets a partial sink batch wait for more items: one write instead of one per turn', async () => {
    // One item finishes per loop turn (the stage waits `i` turns), so a sink that waits only
    // one turn writes many small batches, and one that may wait gets them all at once.
    const batchesWith = async (batchWaitMs: number) => {
      const sizes: number[] = [];
      await pipeline({ name: 'linger' })
        .from(range(40))
        .map(
          'spread',
          async (i) => {
            await turns(i);
            return i;
          },
          { concurrency: 40, buffer: 40 },
        )
        .to(
          'sink',
          (batch) => {
            sizes.push(batch.length);
          },
          { batchSize: 40, batchWaitMs },
        )
        .run();
      return sizes;
    };
    const eager = await batchesWith(0);
    assert.ok(eager.length > 10, `one turn each: ${eager.length} batches`);
    // The wait ends when the batch is full, long before a minute.
    const t0 = performance.now();
    assert.deepEqual(await batchesWith(60_000), [40]);
    assert.ok(performance.now() - t0 < 30_000);
  });

  it('batchWaitMs ends early when the input ends or the run is stopped', async () => {
    const t0 = performance.now();
    const sizes: number[] = [];
    // 5 items and room for 100: only the end of the input can end the wait.
    await pipeline({ name: 'linger-end' })
      .from(range(5))
      .to(
        'sink',
        (batch) => {
          sizes.push(batch.length);
        },
        { batchSize: 100, batchWaitMs: 60_000 },
      )
      .run();
    assert.deepEqual(sizes, [5]);
    // An endless source stopped by the caller: the waiting batch still ends the run promptly.
    const stop = new AbortController();
    async function* endless() {
      for (let i = 0; ; i++) {
        if (i === 3) setImmediate(() => stop.abort(new Error('stop')));
        await nextTurn();
        yield i;
      }
    }
    const report = await pipeline({ name: 'linger-stop' })
      .from(endless())
      .to('sink', () => {}, { batchSize: 100, batchWaitMs: 60_000 })
      .run({ signal: stop.signal, drainTimeoutMs: 0 });
    assert.equal(report.totals.interrupted, true);
    assert.ok(performance.now() - t0 < 30_000, 'neither wait ran its minute');
  });

  it('validates options, naming the option', async () => {
    const p = pipeline({ name: 'v' }).from([1]);
    assert.throws(
      () => p.map('a', (x) => x, { concurrency: 0 }),
      /concurrency must be an integer >= 1, got 0/,
    );
    assert.throws(() => p.map('a', (x) => x, { buffer: 1.5 }), /buffer must be an integer >= 1/);
    assert.throws(() => p.map('a', (x) => x).map('a', (x) => x), /already named "a"/);
    assert.throws(() => p.to('s', {} as never), /sink must be a function or an object with write/);
    assert.throws(() => p.to('s', () => {}, { batchWaitMs: -5 }), /batchWaitMs must be >= 0/);
    assert.throws(() => pipeline({ name: '' }), /name must be a non-empty string/);
    await assert.rejects(
      p.to('s', () => {}).run({ drainTimeoutMs: -1 }),
      /drainTimeoutMs must be >= 0/,
    );
    await assert.rejects(
      p.to('s', () => {}).run({ signal: {} as AbortSignal }),
      /signal must be an AbortSignal/,
    );
  });
});

type TaskGroupErrorLike = { errors?: Error[] };
