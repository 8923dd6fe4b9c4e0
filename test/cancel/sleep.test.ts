import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sleep } from '../../src/cancel/index.ts';

describe('sleep', () => {
  it('resolves after the delay', async () => {
    const started = performance.now();
    await sleep(20);
    assert.ok(performance.now() - started >= 19);
  });

  it('rejects with the signal reason itself, not an AbortError wrapping it', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const pending = sleep(60_000, { signal: controller.signal });
    controller.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
  });

  it('settles at once on an already-aborted signal', async () => {
    const reason = new Error('already');
    await assert.rejects(sleep(60_000, { signal: AbortSignal.abort(reason) }), (e) => e === reason);
  });

  it('rejects bad durations with an error naming the option', async () => {
    await assert.rejects(sleep(-1), /sleep: ms must be >= 0/);
    await assert.rejects(sleep(Number.NaN), /sleep: ms must be a number/);
  });
});
