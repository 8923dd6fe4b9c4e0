import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BulkheadRejectedError, bulkhead } from '../../src/resilience/index.ts';
import { deferred, failOnUnhandledRejections, settled } from '../support/helpers.ts';

failOnUnhandledRejections();

describe('bulkhead', () => {
  it('runs at most concurrency calls and queues the next ones in order', async () => {
    const policy = bulkhead({ concurrency: 2, queue: 2 });
    const gates = [0, 1, 2, 3].map(() => deferred<number>());
    const order: number[] = [];
    const calls = gates.map((g, i) =>
      policy.execute(() => {
        order.push(i);
        return g.promise;
      }),
    );
    assert.deepEqual(order, [0, 1]);
    assert.deepEqual(
      { running: policy.stats().running, queued: policy.stats().queued },
      { running: 2, queued: 2 },
    );
    gates[1]!.resolve(1);
    await calls[1];
    await settled(calls[2]!);
    assert.deepEqual(order, [0, 1, 2]);
    for (const [i, g] of gates.entries()) g.resolve(i);
    assert.deepEqual(await Promise.all(calls), [0, 1, 2, 3]);
    assert.equal(policy.stats().running, 0);
  });

  it('rejects at once with the numbers when slots and queue are full', async () => {
    const policy = bulkhead({ concurrency: 2, queue: 1 });
    const gate = deferred();
    const held = [0, 1, 2].map(() => policy.execute(() => gate.promise));
    let called = false;
    const error = await policy
      .execute(async () => {
        called = true;
      })
      .catch((e: unknown) => e);
    assert.ok(error instanceof BulkheadRejectedError);
    assert.equal(error.code, 'ERR_SWITCHYARD_BULKHEAD_REJECTED');
    assert.equal(error.message, 'bulkhead full: 2/2 running, 1/1 queued');
    assert.equal(called, false);
    assert.equal(policy.stats().rejected, 1);
    gate.resolve();
    await Promise.all(held);
  });

  it('frees the queue slot of an aborted call at once', async () => {
    const policy = bulkhead({ concurrency: 1, queue: 1 });
    const gate = deferred();
    const running = policy.execute(() => gate.promise);
    const controller = new AbortController();
    const queued = policy.execute(async () => 'never', { signal: controller.signal });
    await assert.rejects(
      policy.execute(async () => 'x'),
      BulkheadRejectedError,
    );
    controller.abort('gave up');
    assert.deepEqual(await settled(queued), { state: 'rejected', reason: 'gave up' });
    const next = policy.execute(async () => 'next');
    assert.equal(policy.stats().queued, 1, 'the freed place was taken by the next call');
    gate.resolve();
    await running;
    assert.equal(await next, 'next');
    assert.equal(policy.stats().cancelled, 1);
  });

  it('keeps the slot of a running call until its work settles, even after an abort', async () => {
    const policy = bulkhead({ concurrency: 1 });
    const gate = deferred();
    const controller = new AbortController();
    const running = policy.execute(() => gate.promise, { signal: controller.signal });
    controller.abort();
    await assert.rejects(
      policy.execute(async () => {}),
      BulkheadRejectedError,
    );
    gate.resolve();
    await running;
    await policy.execute(async () => {});
  });

  it('releases the slot when fn throws synchronously', async () => {
    const policy = bulkhead({ concurrency: 1 });
    await assert.rejects(
      policy.execute(() => {
        throw new Error('sync');
      }),
      { message: 'sync' },
    );
    assert.equal(policy.stats().running, 0);
    assert.equal(await policy.execute(() => 7), 7);
  });

  it('gives the slot of a failed call to the next queued one and counts every admission', async () => {
    const policy = bulkhead({ concurrency: 1, queue: 1 });
    const gate = deferred();
    const failing = policy.execute(() => gate.promise);
    const next = policy.execute(async () => 'next');
    assert.deepEqual([policy.stats().running, policy.stats().queued], [1, 1]);
    gate.reject(new Error('failed'));
    await assert.rejects(failing, { message: 'failed' });
    assert.equal(await next, 'next');
    assert.deepEqual(
      {
        running: policy.stats().running,
        queued: policy.stats().queued,
        admitted: policy.stats().admitted,
      },
      { running: 0, queued: 0, admitted: 2 },
    );
    assert.equal(await policy.execute(async () => 'free again'), 'free again');
  });

  it('validates its options', () => {
    assert.throws(() => bulkhead({ concurrency: 0 }), /concurrency must be >= 1/);
    assert.throws(() => bulkhead({ concurrency: 1, queue: -1 }), /queue must be >= 0/);
  });
});
