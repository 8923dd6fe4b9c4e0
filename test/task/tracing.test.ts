import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allTasks, currentTask, enableTaskTracing, TaskGroup } from '../../src/task/index.ts';
import { deferred, failOnUnhandledRejections, turns } from '../support/helpers.ts';

failOnUnhandledRejections();

// Tracing is process-wide state: this file runs its tests in order, before and after enabling.
describe('allTasks and currentTask', () => {
  it('allTasks() lists live tasks with name, state, age, group and the spawn site of named ones', async () => {
    const release = deferred();
    const tg = new TaskGroup({ name: 'crawler' });
    tg.spawn(() => release.promise, { name: 'fetch example.com' });
    tg.spawn(() => release.promise);
    const live = allTasks();
    assert.equal(live.length, 2);
    const named = live.find((t) => t.name === 'fetch example.com');
    assert.ok(named);
    assert.equal(named.state, 'pending');
    assert.equal(named.group, 'crawler');
    assert.ok(named.ageMs >= 0);
    assert.match(named.spawnSite ?? '', /tracing\.test\.ts:\d+:\d+/);
    const unnamed = live.find((t) => t !== named);
    assert.equal(unnamed?.spawnSite, undefined, 'unnamed tasks record no site until tracing is on');
    release.resolve();
    await tg.wait();
    assert.deepEqual(allTasks(), [], 'settled tasks leave the registry');
  });

  it('currentTask() says how to switch context on where it is off by default (Node 20/22)', () => {
    if (Number(process.versions.node.split('.')[0]) >= 24) {
      assert.equal(currentTask(), undefined, 'on by default on Node 24+');
    } else {
      assert.throws(() => currentTask(), /call enableTaskTracing\(\) once at startup/);
    }
  });

  it('with tracing on, currentTask() is the running task across awaits, and every task has a spawn site', async () => {
    enableTaskTracing();
    assert.equal(currentTask(), undefined, 'outside any task');
    const tg = new TaskGroup();
    const seen: unknown[] = [];
    const task = tg.spawn(async () => {
      seen.push(currentTask());
      await turns(2);
      seen.push(currentTask());
    });
    const other = tg.spawn(async () => {
      await turns(1);
      seen.push(currentTask());
    });
    assert.match(task.spawnSite ?? '', /tracing\.test\.ts:\d+:\d+/);
    await tg.wait();
    assert.deepEqual(seen, [task, other, task]);
  });

  it('lets a task that declares no parameter read its signal through currentTask()', async () => {
    const tg = new TaskGroup();
    const task = tg.spawn(async () => {
      const signal = currentTask()!.signal;
      await turns(Number.POSITIVE_INFINITY, signal);
    });
    task.cancel();
    await tg.wait();
    assert.equal(task.state, 'cancelled');
  });
});
