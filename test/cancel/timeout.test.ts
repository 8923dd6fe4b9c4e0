import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout as nodeSleep } from 'node:timers/promises';
import {
  deadline,
  moveOnAfter,
  sleep,
  TimeoutError,
  TimeoutPolicy,
  timeout,
} from '../../src/cancel/index.ts';
import { activeTimers, failOnUnhandledRejections } from '../support/helpers.ts';

failOnUnhandledRejections();

/** Waits on the signal forever: settles only by rejecting with the abort reason. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

describe('timeout', () => {
  it('rejects with a TimeoutError that is also the reason of the inner signal', async () => {
    let inner: AbortSignal | undefined;
    const error = await timeout(10, (signal) => {
      inner = signal;
      return untilAborted(signal);
    }).catch((e: unknown) => e);
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.code, 'ERR_SWITCHYARD_TIMEOUT');
    assert.equal(error.ms, 10);
    assert.equal(inner?.aborted, true);
    assert.equal(inner?.reason, error);
  });

  it('resolves with the value when the work finishes in time', async () => {
    assert.equal(await timeout(1_000, async () => 'done'), 'done');
  });

  it('leaves no timer and no listener behind, whether it succeeds, fails or times out', async () => {
    const parent = new AbortController();
    const before = activeTimers();
    await timeout(60_000, async () => 1, { signal: parent.signal });
    await timeout(60_000, async () => Promise.reject(new Error('x')), {
      signal: parent.signal,
    }).catch(() => {});
    await timeout(5, untilAborted, { signal: parent.signal }).catch(() => {});
    assert.equal(activeTimers(), before);
    assert.equal(getEventListeners(parent.signal, 'abort').length, 0);
  });

  it("turns node's AbortError (cause = the reason) into the TimeoutError", async () => {
    const error = await timeout(5, (signal) => nodeSleep(60_000, undefined, { signal })).catch(
      (e) => e,
    );
    assert.ok(error instanceof TimeoutError);
  });

  it('passes a failure unrelated to the timeout through unchanged', async () => {
    const failure = new Error('boom');
    await assert.rejects(
      timeout(60_000, async () => {
        throw failure;
      }),
      (e) => e === failure,
    );
  });

  it('keeps the value of work that ignored its signal and finished late (it settles when fn settles)', async () => {
    const value = await timeout(5, async () => {
      await sleep(25);
      return 'late';
    });
    assert.equal(value, 'late');
  });

  it("rejects with the parent's reason, not a TimeoutError, when the parent aborts first", async () => {
    const parent = new AbortController();
    const reason = new Error('shutdown');
    const pending = timeout(60_000, untilAborted, { signal: parent.signal });
    parent.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
  });

  it('settles at once on an already-aborted signal, without calling fn', async () => {
    const reason = new Error('already');
    let called = false;
    await assert.rejects(
      timeout(
        60_000,
        async () => {
          called = true;
        },
        { signal: AbortSignal.abort(reason) },
      ),
      (e) => e === reason,
    );
    assert.equal(called, false);
  });

  it('rejects bad arguments with an error that names them, never a synchronous throw', async () => {
    await assert.rejects(
      timeout(-5, async () => 1),
      /timeout: ms must be >= 0, got -5/,
    );
    await assert.rejects(
      timeout(Number.NaN, async () => 1),
      /timeout: ms must be a number/,
    );
    await assert.rejects(
      timeout(2 ** 31, async () => 1),
      /at most 2147483647 ms/,
    );
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    await assert.rejects(timeout(5, 'nope' as any), /fn must be a function/);
  });

  it('as a policy, gives each execute its own budget', async () => {
    const policy = timeout(5);
    assert.ok(policy instanceof TimeoutPolicy);
    assert.equal(await policy.execute(async () => 1), 1);
    await assert.rejects(policy.execute(untilAborted), TimeoutError);
    assert.throws(() => timeout(-1), /ms must be >= 0/);
  });
});

describe('moveOnAfter', () => {
  it('resolves undefined when the time runs out', async () => {
    assert.equal(await moveOnAfter(5, untilAborted), undefined);
  });

  it('resolves the value when the work is quicker', async () => {
    assert.equal(await moveOnAfter(1_000, async () => 7), 7);
  });

  it('still rejects on other failures and on a parent abort', async () => {
    const failure = new Error('boom');
    await assert.rejects(
      moveOnAfter(1_000, async () => {
        throw failure;
      }),
      (e) => e === failure,
    );
    const reason = new Error('parent');
    await assert.rejects(
      moveOnAfter(1_000, untilAborted, { signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
  });
});

describe('deadline', () => {
  it('times out at an absolute Date.now() time', async () => {
    const error = await deadline(Date.now() + 10, untilAborted).catch((e) => e);
    assert.ok(error instanceof TimeoutError);
    assert.match(error.message, /deadline passed/);
  });

  it('accepts a Date and resolves when the work is in time', async () => {
    assert.equal(await deadline(new Date(Date.now() + 60_000), async () => 'ok'), 'ok');
  });

  it('rejects at once, without calling fn, when the deadline has already passed', async () => {
    let called = false;
    await assert.rejects(
      deadline(Date.now() - 1, async () => {
        called = true;
      }),
      TimeoutError,
    );
    assert.equal(called, false);
  });
});

describe('timeout around work that takes no signal', () => {
  it('arms no timer: such work cannot be cancelled, and its outcome stands', async () => {
    const before = activeTimers();
    let release!: (v: string) => void;
    const call = timeout(60_000, () => new Promise<string>((resolve) => (release = resolve)));
    assert.equal(activeTimers(), before);
    release('value');
    assert.equal(await call, 'value');
    const failure = new Error('own');
    await assert.rejects(
      timeout(60_000, async () => {
        throw failure;
      }),
      (e) => e === failure,
    );
    assert.equal(activeTimers(), before);
  });

  it('still validates its arguments and honours an already-aborted signal', async () => {
    let called = false;
    const work = async () => {
      called = true;
    };
    await assert.rejects(timeout(-1, work), /ms must be >= 0/);
    await assert.rejects(
      timeout(5, work, { signal: AbortSignal.abort('gone') }),
      (e) => e === 'gone',
    );
    await assert.rejects(timeout(0, work), TimeoutError);
    assert.equal(called, false);
  });
});
