import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { threadId } from 'node:worker_threads';
import { failOnUnhandledRejections } from '../support/helpers.ts';
import { defaultThreadPool, ThreadPool, toThread } from './imports.ts';

failOnUnhandledRejections();

after(() => defaultThreadPool().close());

describe('toThread', () => {
  it('runs a self-contained function on another thread with its arguments', async () => {
    const result = await toThread(
      async (a: number, b: number) => {
        const { threadId: id } = await import('node:worker_threads');
        return { sum: a + b, id };
      },
      2,
      3,
    );
    assert.equal(result.sum, 5);
    assert.notEqual(result.id, threadId);
  });

  it('runs methods and plain functions, and returns what they return', async () => {
    const helpers = {
      square(x: number) {
        return x * x;
      },
    };
    function shout(s: string) {
      return `${s.toUpperCase()}!`;
    }
    assert.equal(await toThread(helpers.square, 7), 49);
    assert.equal(await toThread(shout, 'hey'), 'HEY!');
  });

  it('fails a function that uses a captured variable with an error naming it', async () => {
    const secret = 42;
    const error = await toThread(() => secret + 1).catch((e: unknown) => e as Error);
    assert.ok(error instanceof ReferenceError);
    assert.match(error.message, /uses "secret", which it cannot see in the worker/);
    assert.match(error.message, /pass "secret" as an argument/);
  });

  it('refuses native and bound functions, which have no source to send', async () => {
    await assert.rejects(toThread(Math.max, 1, 2), /native or bound function/);
    const bound = ((x: number) => x).bind(null);
    await assert.rejects(toThread(bound, 1), /native or bound function/);
  });

  it('is available on any pool as runFunction, with run options', async () => {
    await using pool = new ThreadPool({ maxThreads: 1 });
    const reason = new Error('no');
    await assert.rejects(
      pool.runFunction((x: number) => x, [1], { signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    assert.equal(await pool.runFunction((x: number) => x * 2, [21]), 42);
  });
});
