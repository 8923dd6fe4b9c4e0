import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asCompleted } from '../../src/task/index.ts';
import { failOnUnhandledRejections, turns } from '../support/helpers.ts';

failOnUnhandledRejections();

const after = (n: number, value: string) => (signal: AbortSignal) =>
  turns(n, signal).then(() => value);

describe('asCompleted', () => {
  it('yields results in completion order', async () => {
    const seen: string[] = [];
    for await (const value of asCompleted([after(5, 'c'), after(1, 'a'), after(3, 'b')])) {
      seen.push(value);
    }
    assert.deepEqual(seen, ['a', 'b', 'c']);
  });

  it('throws a rejected item at its turn and aborts the factories still running', async () => {
    const seen: string[] = [];
    const failure = new Error('second');
    let slowSignal: AbortSignal | undefined;
    const iteration = (async () => {
      for await (const value of asCompleted([
        after(1, 'first'),
        async () => {
          await turns(2);
          throw failure;
        },
        (signal: AbortSignal) => {
          slowSignal = signal;
          return turns(Number.POSITIVE_INFINITY, signal);
        },
      ])) {
        seen.push(value as string);
      }
    })();
    await assert.rejects(iteration, (e) => e === failure);
    assert.deepEqual(seen, ['first']);
    assert.equal(slowSignal?.aborted, true);
  });

  it('aborts the remaining factories when the loop breaks early', async () => {
    let slowSignal: AbortSignal | undefined;
    for await (const value of asCompleted([
      after(1, 'quick'),
      (signal: AbortSignal) => {
        slowSignal = signal;
        return turns(Number.POSITIVE_INFINITY, signal);
      },
    ])) {
      assert.equal(value, 'quick');
      break;
    }
    assert.equal(slowSignal?.aborted, true);
  });

  it("rejects the pending next() with the signal's reason on abort", async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const iterator = asCompleted([after(Number.POSITIVE_INFINITY, 'never')], {
      signal: controller.signal,
    });
    const next = iterator.next();
    controller.abort(reason);
    await assert.rejects(next, (e) => e === reason);
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
  });

  it('settles at once on an already-aborted signal and accepts plain promises', async () => {
    const reason = new Error('already');
    await assert.rejects(
      asCompleted([after(1, 'x')], { signal: AbortSignal.abort(reason) }).next(),
      (e) => e === reason,
    );
    const values: number[] = [];
    for await (const v of asCompleted([Promise.resolve(1)])) values.push(v);
    assert.deepEqual(values, [1]);
    for await (const _ of asCompleted([])) assert.fail('an empty list yields nothing');
  });
});
