import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { CancelledError } from '../../src/cancel/index.ts';
import { GroupClosedError, TaskGroup, TaskGroupError, taskGroup } from '../../src/task/index.ts';
import { deferred, failOnUnhandledRejections, nextTurn, turns } from '../support/helpers.ts';

failOnUnhandledRejections();

/** A task body that waits until its signal aborts, then rejects with the reason. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return turns(Number.POSITIVE_INFINITY, signal) as Promise<never>;
}

describe('TaskGroup', () => {
  it('waits for every task and resolves when all succeed', async () => {
    const tg = new TaskGroup();
    const a = tg.spawn(async () => 1);
    const b = tg.spawn(async (signal) => {
      await turns(3, signal);
      return 2;
    });
    await tg.wait();
    assert.equal(a.state, 'fulfilled');
    assert.equal(b.state, 'fulfilled');
    assert.deepEqual([await a, await b], [1, 2]);
  });

  it('still waits for every sibling after one fails, and aborts their signals', async () => {
    const tg = new TaskGroup({ name: 'crawl' });
    const failure = new Error('boom');
    const siblingSaw: unknown[] = [];
    let lateSiblingFinished = false;
    tg.spawn(async (signal) => {
      await untilAborted(signal).catch((reason) => siblingSaw.push(reason));
      // Cleanup that takes a few turns: the group must wait for it.
      await turns(5);
      lateSiblingFinished = true;
    });
    tg.spawn(async () => {
      await turns(1);
      throw failure;
    });
    const error = await tg.wait().catch((e) => e);
    assert.equal(lateSiblingFinished, true);
    assert.ok(error instanceof TaskGroupError);
    assert.ok(error instanceof AggregateError);
    assert.equal(error.code, 'ERR_SWITCHYARD_TASK_GROUP');
    assert.deepEqual(error.errors, [failure]);
    assert.match(error.message, /1 task in task group "crawl" failed; first: Error: boom/);
    assert.equal(siblingSaw.length, 1);
    assert.ok(siblingSaw[0] instanceof CancelledError);
    assert.equal((siblingSaw[0] as CancelledError).cause, failure);
  });

  it('collects every failure in order and no cancellations', async () => {
    const tg = new TaskGroup();
    const first = new Error('first');
    const second = new Error('second');
    const cancelled = tg.spawn((signal) => untilAborted(signal));
    tg.spawn(async () => {
      await turns(1);
      throw first;
    });
    tg.spawn(async () => {
      // Ignores its signal and fails anyway, after the first failure: still a failure.
      await turns(3);
      throw second;
    });
    const error = await tg.wait().catch((e) => e);
    assert.deepEqual((error as TaskGroupError).errors, [first, second]);
    assert.equal(cancelled.state, 'cancelled');
  });

  it('passes a nested group failure to the outer group as one TaskGroupError', async () => {
    const inner = new Error('inner');
    const error = await taskGroup(
      async (outer) => {
        outer.spawn((signal) =>
          taskGroup(
            async (tg) => {
              tg.spawn(async () => {
                throw inner;
              });
              tg.spawn((s) => untilAborted(s));
            },
            { signal, name: 'inner' },
          ),
        );
        outer.spawn((signal) => untilAborted(signal));
      },
      { name: 'outer' },
    ).catch((e) => e);
    assert.ok(error instanceof TaskGroupError);
    assert.equal(error.group, 'outer');
    assert.equal(error.errors.length, 1);
    const nested = error.errors[0];
    assert.ok(nested instanceof TaskGroupError);
    assert.equal(nested.group, 'inner');
    assert.deepEqual(nested.errors, [inner]);
  });

  it("cancels every task when the parent signal aborts, and rejects with the parent's reason", async () => {
    const parent = new AbortController();
    const reason = new Error('shutdown');
    const tg = new TaskGroup({ signal: parent.signal });
    const seen: unknown[] = [];
    const a = tg.spawn((signal) => untilAborted(signal).catch((r) => seen.push(r)));
    const b = tg.spawn((signal) => untilAborted(signal));
    const waiting = tg.wait();
    await nextTurn();
    parent.abort(reason);
    await assert.rejects(waiting, (e) => e === reason);
    assert.deepEqual(seen, [reason]);
    assert.equal(a.state, 'fulfilled');
    assert.equal(b.state, 'cancelled');
    assert.equal(getEventListeners(parent.signal, 'abort').length, 0);
  });

  it('settles at once on an already-aborted parent, without starting tasks', async () => {
    const reason = new Error('already');
    const tg = new TaskGroup({ signal: AbortSignal.abort(reason) });
    let started = false;
    const task = tg.spawn(async () => {
      started = true;
    });
    await assert.rejects(tg.wait(), (e) => e === reason);
    assert.equal(started, false);
    assert.equal(task.state, 'cancelled');
    await assert.rejects(Promise.resolve(task), (e) => e === reason);
    await assert.rejects(
      taskGroup(async () => 1, { signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
  });

  it('throws when spawning into a finished group', async () => {
    const tg = new TaskGroup({ name: 'done' });
    tg.spawn(async () => {});
    await tg.wait();
    assert.throws(
      () => tg.spawn(async () => {}, { name: 'late' }),
      (e: unknown) =>
        e instanceof GroupClosedError &&
        e.code === 'ERR_SWITCHYARD_GROUP_CLOSED' &&
        /cannot spawn task "late": task group "done" has finished/.test(e.message),
    );
  });

  it("throws the group's cancellation reason when spawning into a group cancelling after a failure", async () => {
    const tg = new TaskGroup({ name: 'g' });
    const failure = new Error('x');
    tg.spawn(async () => {
      throw failure;
    });
    await nextTurn();
    assert.throws(
      () => tg.spawn(async () => {}),
      (e: unknown) => e instanceof CancelledError && e === tg.signal.reason && e.cause === failure,
    );
    await tg.wait().catch(() => {});
  });

  it('ends a taskGroup body that keeps spawning after a failure as cancelled, not as a second failure', async () => {
    const failure = new Error('bad input');
    const error = await taskGroup(async (tg) => {
      for (const n of [1, 2, 3]) {
        tg.spawn(() => {
          if (n === 1) throw failure;
        });
      }
    }).catch((e) => e);
    assert.ok(error instanceof TaskGroupError);
    assert.deepEqual(error.errors, [failure]);
  });

  it('lets a running child spawn siblings, and waits for them too', async () => {
    const order: string[] = [];
    await taskGroup(async (tg) => {
      tg.spawn(async () => {
        await turns(1);
        tg.spawn(async () => {
          await turns(3);
          order.push('grandchild-spawned sibling');
        });
        order.push('child');
      });
    });
    assert.deepEqual(order, ['child', 'grandchild-spawned sibling']);
  });

  it('waits with await using', async () => {
    let finished = false;
    {
      await using tg = new TaskGroup();
      tg.spawn(async () => {
        await turns(2);
        finished = true;
      });
    }
    assert.equal(finished, true);
  });

  it('treats a task that rejects with its own cancel reason as cancelled, not failed', async () => {
    const tg = new TaskGroup();
    const task = tg.spawn((signal) => untilAborted(signal));
    const sibling = tg.spawn(async () => 'ok');
    task.cancel();
    await tg.wait();
    assert.equal(task.state, 'cancelled');
    assert.equal(sibling.state, 'fulfilled');
    await assert.rejects(Promise.resolve(task), CancelledError);
  });

  it('counts a rejection with some other AbortError-free error after cancel as a failure', async () => {
    const tg = new TaskGroup();
    const failure = new Error('cleanup failed');
    const task = tg.spawn(async (signal) => {
      await untilAborted(signal).catch(() => {});
      throw failure;
    });
    task.cancel();
    await assert.rejects(tg.wait(), (e) => e instanceof TaskGroupError && e.errors[0] === failure);
    assert.equal(task.state, 'rejected');
  });

  it('cancel() stops every task and the group then resolves', async () => {
    const tg = new TaskGroup();
    const a = tg.spawn((signal) => untilAborted(signal));
    const b = tg.spawn(() => untilAborted(tg.signal));
    tg.cancel();
    const late = tg.spawn(async () => 1);
    assert.equal(late.state, 'cancelled');
    await tg.wait();
    assert.equal(a.state, 'cancelled');
    assert.equal(b.state, 'cancelled');
  });

  it('counts a synchronous throw as a failure', async () => {
    const tg = new TaskGroup();
    const failure = new Error('sync');
    const task = tg.spawn(() => {
      throw failure;
    });
    assert.equal(task.state, 'rejected');
    await assert.rejects(tg.wait(), (e) => e instanceof TaskGroupError && e.errors[0] === failure);
  });

  it('accepts synchronous functions and non-promise thenables', async () => {
    const tg = new TaskGroup();
    const sync = tg.spawn(() => 5);
    const thenable = tg.spawn(
      (): PromiseLike<number> => ({
        // biome-ignore lint/suspicious/noExplicitAny: a minimal hand-written thenable
        then(resolve: any) {
          return resolve(6);
        },
      }),
    );
    await tg.wait();
    assert.equal(await sync, 5);
    assert.equal(await thenable, 6);
  });

  it('names tasks by option, then by function name, then by id', () => {
    const tg = new TaskGroup();
    assert.equal(tg.spawn(() => 1, { name: 'given' }).name, 'given');
    assert.equal(tg.spawn(function fetchPage() {}).name, 'fetchPage');
    assert.match(tg.spawn(() => 1).name, /^task-\d+$/);
    return tg.wait();
  });

  it('rejects a bad cancelGraceMs and a non-function with errors that say what is wrong', () => {
    assert.throws(
      () => new TaskGroup({ cancelGraceMs: -1 }),
      /TaskGroup: cancelGraceMs must be >= 0/,
    );
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    assert.throws(() => new TaskGroup().spawn('x' as any), /spawn: expected a function/);
  });

  it('reports tasks that ignore their signal after cancelGraceMs, naming them and their spawn site, and keeps waiting', async () => {
    const channel = diagnostics.channel('switchyard:task:stuck');
    const report = deferred<{ group: string; tasks: { name: string; spawnSite?: string }[] }>();
    const onReport = (message: unknown) => report.resolve(message as never);
    channel.subscribe(onReport);
    try {
      const release = deferred();
      const tg = new TaskGroup({ name: 'stubborn-group', cancelGraceMs: 20 });
      tg.spawn(() => release.promise, { name: 'stubborn' }); // ignores its signal
      tg.spawn(async () => {
        throw new Error('trigger');
      });
      let settled = false;
      const waiting = tg.wait().finally(() => {
        settled = true;
      });
      const message = await report.promise;
      assert.equal(message.group, 'stubborn-group');
      assert.deepEqual(
        message.tasks.map((t) => t.name),
        ['stubborn'],
      );
      assert.match(message.tasks[0]!.spawnSite ?? '', /task-group\.test\.ts:\d+:\d+/);
      await nextTurn();
      assert.equal(settled, false);
      release.resolve();
      await assert.rejects(waiting, TaskGroupError);
    } finally {
      channel.unsubscribe(onReport);
    }
  });

  it('publishes every failure on switchyard:task:failed, and no cancellation', async () => {
    const channel = diagnostics.channel('switchyard:task:failed');
    const seen: { group: string; task: string; error: unknown }[] = [];
    const onFailure = (message: unknown) => seen.push(message as never);
    channel.subscribe(onFailure);
    try {
      const boom = new Error('boom');
      const tg = new TaskGroup({ name: 'observed' });
      tg.spawn((signal) => untilAborted(signal), { name: 'sibling' }); // cancelled, not failed
      tg.spawn(
        async () => {
          throw boom;
        },
        { name: 'failing' },
      );
      await assert.rejects(tg.wait(), TaskGroupError);
      assert.deepEqual(seen, [{ group: 'observed', task: 'failing', error: boom }]);
    } finally {
      channel.unsubscribe(onFailure);
    }
  });

  it('never leaves an unhandled rejection, whatever the children do', async () => {
    const parent = new AbortController();
    const tg = new TaskGroup({ signal: parent.signal });
    tg.spawn(async () => {
      throw new Error('a');
    });
    tg.spawn(() => Promise.reject(new Error('b')));
    tg.spawn((signal) => untilAborted(signal));
    tg.spawn(() => {
      throw new Error('c');
    });
    parent.abort(new Error('parent'));
    await tg.wait().catch(() => {});
    // The hook in failOnUnhandledRejections fails this test if any escaped.
  });
});

describe('taskGroup', () => {
  it("resolves with the body's value after every task is done", async () => {
    let childDone = false;
    const value = await taskGroup(async (tg) => {
      tg.spawn(async () => {
        await turns(2);
        childDone = true;
      });
      return 'body';
    });
    assert.equal(value, 'body');
    assert.equal(childDone, true);
  });

  it("counts the body's own throw as a failure that cancels the tasks", async () => {
    const failure = new Error('body failed');
    let childSignal: AbortSignal | undefined;
    const error = await taskGroup(async (tg) => {
      tg.spawn((signal) => {
        childSignal = signal;
        return untilAborted(signal);
      });
      throw failure;
    }).catch((e) => e);
    assert.ok(error instanceof TaskGroupError);
    assert.deepEqual(error.errors, [failure]);
    assert.equal(childSignal?.aborted, true);
  });
});
