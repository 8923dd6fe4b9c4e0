/** The measurement of the parallelism available now: real worker threads computing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measureParallelism } from '../../src/advise/parallelism.ts';

describe('advise: measuring the cores available', () => {
  it('reports between 1 and the number of threads that computed at once', async () => {
    const result = await measureParallelism(2, { windowMs: 20 });
    assert.equal(result.threads, 2);
    assert.ok(Number.isFinite(result.parallelism), String(result.parallelism));
    assert.ok(result.parallelism >= 1 && result.parallelism <= 2, String(result.parallelism));
  });

  it('measures nothing for one thread', async () => {
    assert.deepEqual(await measureParallelism(1), { threads: 1, parallelism: 1 });
  });

  it('rejects with the reason when aborted mid-measurement', async () => {
    const controller = new AbortController();
    const pending = measureParallelism(2, { signal: controller.signal, windowMs: 5_000 });
    setTimeout(() => controller.abort(new Error('stop measuring')), 100);
    const started = performance.now();
    await assert.rejects(pending, /stop measuring/);
    assert.ok(performance.now() - started < 4_000, 'did not wait for the 5 s window');
  });

  it('rejects at once with an already-aborted signal', async () => {
    const reason = new Error('already');
    await assert.rejects(measureParallelism(2, { signal: AbortSignal.abort(reason) }), (e) => {
      assert.equal(e, reason);
      return true;
    });
  });
});
