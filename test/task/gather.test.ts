import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelledError } from '../../src/cancel/index.ts';
import { gather } from '../../src/task/index.ts';
import { deferred, failOnUnhandledRejections, turns } from '../support/helpers.ts';

failOnUnhandledRejections();

describe('gather', () => {
  it('resolves with values in input order, not completion order', async () => {
    const results = await gather([
      (signal: AbortSignal) => turns(3, signal).then(() => 'slow'),
      Promise.resolve(2),
      async () => true,
    ]);
    assert.deepEqual(results, ['slow', 2, true]);
    const typed: [string, number, boolean] = results; // the tuple type flows
    assert.equal(typed.length, 3);
  });

  it('rejects with the first failure and aborts the factories still running', async () => {
    const failure = new Error('first');
    let loserSignal: AbortSignal | undefined;
    const error = await gather([
      (signal: AbortSignal) => {
        loserSignal = signal;
        return turns(Number.POSITIVE_INFINITY, signal);
      },
      async () => {
        await turns(1);
        throw failure;
      },
    ]).catch((e) => e);
    assert.equal(error, failure);
    assert.ok(loserSignal?.aborted);
    assert.ok(loserSignal.reason instanceof CancelledError);
    assert.equal((loserSignal.reason as CancelledError).cause, failure);
  });

  it('with returnExceptions, puts each failure in its place and aborts nothing', async () => {
    const failure = new Error('x');
    let otherSignal: AbortSignal | undefined;
    const results = await gather(
      [
        async () => {
          throw failure;
        },
        async (signal: AbortSignal) => {
          otherSignal = signal;
          await turns(2);
          return 'ok';
        },
      ],
      { returnExceptions: true },
    );
    assert.deepEqual(results, [failure, 'ok']);
    assert.equal(otherSignal?.aborted, false);
  });

  it("rejects with the signal's reason on abort and aborts the factories", async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    let factorySignal: AbortSignal | undefined;
    const pending = gather(
      [
        (signal: AbortSignal) => {
          factorySignal = signal;
          return turns(Number.POSITIVE_INFINITY, signal);
        },
      ],
      { signal: controller.signal },
    );
    controller.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
    assert.equal(factorySignal?.reason, reason);
  });

  it('settles at once on an already-aborted signal without calling any factory', async () => {
    let called = false;
    const reason = new Error('already');
    await assert.rejects(
      gather([async () => (called = true)], { signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    assert.equal(called, false);
  });

  it('resolves an empty list at once and handles the later rejections of losers', async () => {
    assert.deepEqual(await gather([]), []);
    const late = deferred<number>();
    const error = await gather([Promise.reject(new Error('now')), late.promise]).catch((e) => e);
    assert.match(String(error), /now/);
    late.reject(new Error('later, after gather gave up')); // must not be unhandled
  });

  it('turns a factory that throws synchronously into a rejection; the others still start, as in asyncio', async () => {
    let laterCalled = false;
    const failure = new Error('sync');
    await assert.rejects(
      gather([
        () => {
          throw failure;
        },
        async () => {
          laterCalled = true;
        },
      ]),
      (e) => e === failure,
    );
    assert.equal(laterCalled, true, 'factories start together, like asyncio.gather');
  });
});
