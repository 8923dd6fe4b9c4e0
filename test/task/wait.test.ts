import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wait } from '../../src/task/index.ts';
import { activeTimers, deferred, failOnUnhandledRejections, turns } from '../support/helpers.ts';

failOnUnhandledRejections();

describe('wait', () => {
  it('FIRST_COMPLETED returns as soon as one item settles, as Sets of the input objects', async () => {
    const slow = turns(20);
    const quick = turns(1);
    const { done, pending } = await wait([slow, quick], { returnWhen: 'FIRST_COMPLETED' });
    assert.deepEqual([...done], [quick]);
    assert.deepEqual([...pending], [slow]);
  });

  it('FIRST_EXCEPTION returns at the first rejection, without rethrowing it', async () => {
    const ok = turns(1);
    const bad = turns(2).then(() => Promise.reject(new Error('x')));
    const never = deferred().promise;
    const { done, pending } = await wait([ok, bad, never], { returnWhen: 'FIRST_EXCEPTION' });
    assert.deepEqual(new Set(done), new Set([ok, bad]));
    assert.deepEqual([...pending], [never]);
  });

  it('FIRST_EXCEPTION waits for all when nothing fails', async () => {
    const items = [turns(1), turns(3)];
    const { done, pending } = await wait(items, { returnWhen: 'FIRST_EXCEPTION' });
    assert.equal(done.size, 2);
    assert.equal(pending.size, 0);
  });

  it('ALL_COMPLETED (the default) waits for every item, failures included', async () => {
    const items = [turns(1), turns(2).then(() => Promise.reject(new Error('x'))), turns(4)];
    const { done, pending } = await wait(items);
    assert.equal(done.size, 3);
    assert.equal(pending.size, 0);
  });

  it('resolves at the timeout with what is done so far, and clears its timer when it does not fire', async () => {
    const never = deferred().promise;
    const quick = Promise.resolve(1);
    const { done, pending } = await wait([quick, never], { timeout: 10 });
    assert.deepEqual([...done], [quick]);
    assert.deepEqual([...pending], [never]);
    const before = activeTimers();
    await wait([Promise.resolve(2)], { timeout: 60_000 });
    assert.equal(activeTimers(), before);
  });

  it("rejects with the signal's reason, at once when already aborted", async () => {
    const reason = new Error('stop');
    await assert.rejects(
      wait([deferred().promise], { signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    const controller = new AbortController();
    const pending = wait([deferred().promise], { signal: controller.signal });
    controller.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
  });

  it('rejects an unknown returnWhen with the allowed values', async () => {
    await assert.rejects(
      wait([], { returnWhen: 'FIRST' as unknown as 'FIRST_COMPLETED' }),
      /returnWhen must be one of FIRST_COMPLETED/,
    );
  });
});
