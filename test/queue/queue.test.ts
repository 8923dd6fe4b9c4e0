import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SwitchyardError } from '../../src/cancel/index.ts';
import {
  LifoQueue,
  PriorityQueue,
  Queue,
  QueueEmptyError,
  QueueFullError,
  QueueShutDownError,
} from '../../src/queue/index.ts';
import {
  abortListeners,
  failOnUnhandledRejections,
  nextTurn,
  settled,
} from '../support/helpers.ts';

failOnUnhandledRejections();

async function drain<T>(queue: Queue<T>): Promise<T[]> {
  const items: T[] = [];
  while (!queue.empty) items.push(await queue.get());
  return items;
}

describe('Queue', () => {
  it('hands items out first in, first out', async () => {
    const queue = new Queue<number>();
    for (const n of [1, 2, 3]) await queue.put(n);
    assert.equal(queue.size, 3);
    assert.deepEqual(await drain(queue), [1, 2, 3]);
  });

  it('makes put wait while full and never holds more than maxsize', async () => {
    const queue = new Queue<number>({ maxsize: 2 });
    await queue.put(1);
    await queue.put(2);
    assert.equal(queue.full, true);
    const third = queue.put(3);
    assert.equal((await settled(third)).state, 'pending');
    assert.equal(queue.size, 2);
    assert.equal(queue.stats().waitingPutters, 1);
    assert.equal(await queue.get(), 1);
    assert.equal(queue.size, 2, 'the waiting put took the freed slot');
    await third;
    assert.deepEqual(await drain(queue), [2, 3]);
  });

  it('makes get wait while empty and serves getters in arrival order', async () => {
    const queue = new Queue<string>();
    const first = queue.get();
    const second = queue.get();
    assert.equal(queue.stats().waitingGetters, 2);
    await queue.put('a');
    await queue.put('b');
    assert.deepEqual(await Promise.all([first, second]), ['a', 'b']);
    assert.equal(queue.size, 0);
  });

  it('serves waiting putters in arrival order', async () => {
    const queue = new Queue<number>({ maxsize: 1 });
    await queue.put(0);
    const puts = [1, 2, 3].map((n) => queue.put(n));
    const got: number[] = [];
    for (let i = 0; i < 4; i++) got.push(await queue.get());
    await Promise.all(puts);
    assert.deepEqual(got, [0, 1, 2, 3]);
  });

  it('does not let putNowait barge past a waiting put', async () => {
    const queue = new Queue<number>({ maxsize: 1 });
    await queue.put(1);
    const controller = new AbortController();
    const waiting = queue.put(2, { signal: controller.signal });
    assert.equal(queue.getNowait(), 1);
    assert.throws(() => queue.putNowait(3), QueueFullError);
    await waiting;
    assert.equal(queue.getNowait(), 2);
  });

  it('throws the named errors from putNowait and getNowait, with their codes and numbers', () => {
    const queue = new Queue<number>({ maxsize: 1 });
    assert.throws(
      () => queue.getNowait(),
      (error) =>
        error instanceof QueueEmptyError &&
        error instanceof SwitchyardError &&
        error.code === 'ERR_SWITCHYARD_QUEUE_EMPTY' &&
        /Queue.getNowait: queue empty/.test(error.message),
    );
    queue.putNowait(1);
    assert.throws(
      () => queue.putNowait(2),
      (error) =>
        error instanceof QueueFullError &&
        error.code === 'ERR_SWITCHYARD_QUEUE_FULL' &&
        /queue full \(1\/1 items\)/.test(error.message),
    );
    assert.equal(queue.getNowait(), 1);
  });

  it('rejects a bad maxsize, naming the option', () => {
    assert.throws(
      () => new Queue({ maxsize: -1 }),
      /Queue: maxsize must be an integer >= 0, got -1/,
    );
    assert.throws(() => new LifoQueue({ maxsize: 0.5 }), /LifoQueue: maxsize must be an integer/);
    assert.throws(
      () => new PriorityQueue({ compare: 'desc' as unknown as () => number }),
      /PriorityQueue: compare must be a function, got string/,
    );
  });

  it('rejects a signal option that is not an AbortSignal', async () => {
    const queue = new Queue<number>();
    const bogus = { signal: 1 as unknown as AbortSignal };
    await assert.rejects(queue.put(1, bogus), /Queue.put: signal must be an AbortSignal/);
    await assert.rejects(queue.get(bogus), /Queue.get: signal must be an AbortSignal/);
    await assert.rejects(queue.join(bogus), /Queue.join: signal must be an AbortSignal/);
    assert.equal(queue.size, 0);
  });

  describe('taskDone and join', () => {
    it('resolves join exactly when every item put has been marked done', async () => {
      const queue = new Queue<number>();
      await queue.put(1);
      await queue.put(2);
      const joined = queue.join();
      await queue.get();
      await queue.get();
      queue.taskDone();
      assert.equal((await settled(joined)).state, 'pending', 'one item is still unfinished');
      queue.taskDone();
      await joined;
      assert.equal(queue.stats().unfinishedTasks, 0);
    });

    it('throws when taskDone is called more times than items were put', async () => {
      const queue = new Queue<number>();
      await queue.put(1);
      await queue.get();
      queue.taskDone();
      assert.throws(
        () => queue.taskDone(),
        /Queue.taskDone: called more times than items were put \(0 unfinished of 1 put\)/,
      );
    });

    it('rejects an aborted join with the signal reason', async () => {
      const queue = new Queue<number>();
      await queue.put(1);
      const controller = new AbortController();
      const reason = new Error('stop joining');
      const joined = queue.join({ signal: controller.signal });
      controller.abort(reason);
      await assert.rejects(joined, (e) => e === reason);
      assert.equal(abortListeners(controller.signal), 0);
    });
  });

  describe('cancellation', () => {
    it('never lets a cancelled get swallow an item', async () => {
      const queue = new Queue<string>();
      const controller = new AbortController();
      const reason = new Error('consumer left');
      const cancelled = queue.get({ signal: controller.signal });
      const next = queue.get();
      controller.abort(reason);
      await assert.rejects(cancelled, (e) => e === reason);
      await queue.put('x');
      assert.equal(await next, 'x');
      assert.equal(queue.stats().cancelledTotal, 1);
    });

    it('keeps the item queued when a put hands it to a get whose abort lands in the same nextTurn', async () => {
      const queue = new Queue<string>();
      const controller = new AbortController();
      const cancelled = queue.get({ signal: controller.signal });
      const put = queue.put('x');
      controller.abort(new Error('late'));
      await put;
      await assert.rejects(cancelled, /late/);
      assert.equal(queue.size, 1);
      assert.equal(queue.getNowait(), 'x');
      assert.equal(abortListeners(controller.signal), 0);
    });

    it('passes an item withdrawn by a same-nextTurn abort on to the next waiting get', async () => {
      const queue = new Queue<string>();
      const controller = new AbortController();
      const cancelled = queue.get({ signal: controller.signal });
      const next = queue.get();
      queue.putNowait('x');
      controller.abort(new Error('late'));
      await assert.rejects(cancelled, /late/);
      assert.equal(await next, 'x');
      assert.equal(queue.size, 0);
    });

    it('does not let getNowait take an item promised to an earlier waiting get', async () => {
      const queue = new Queue<string>();
      const controller = new AbortController();
      const waiting = queue.get({ signal: controller.signal });
      queue.putNowait('x');
      assert.throws(() => queue.getNowait(), QueueEmptyError);
      assert.equal(await waiting, 'x');
    });

    it('never lets a cancelled put insert its item', async () => {
      const queue = new Queue<string>({ maxsize: 1 });
      await queue.put('a');
      const controller = new AbortController();
      const reason = new Error('producer left');
      const cancelled = queue.put('never', { signal: controller.signal });
      controller.abort(reason);
      await assert.rejects(cancelled, (e) => e === reason);
      assert.equal(await queue.get(), 'a');
      assert.equal(queue.size, 0);
      assert.equal(queue.stats().putTotal, 1);
    });

    it('does not insert the item of a put whose slot and abort land in the same nextTurn', async () => {
      const queue = new Queue<string>({ maxsize: 1 });
      await queue.put('a');
      const controller = new AbortController();
      const cancelled = queue.put('never', { signal: controller.signal });
      const next = queue.put('b');
      assert.equal(queue.getNowait(), 'a');
      controller.abort(new Error('late'));
      await assert.rejects(cancelled, /late/);
      await next;
      assert.deepEqual(await drain(queue), ['b'], 'the slot went on to the next put');
      assert.equal(queue.stats().unfinishedTasks, 2);
    });

    it('settles at once on an already-aborted signal, taking or inserting nothing (p-queue #241)', async () => {
      const queue = new Queue<number>({ maxsize: 1 });
      const reason = new Error('already');
      const signal = AbortSignal.abort(reason);
      await assert.rejects(queue.put(1, { signal }), (e) => e === reason);
      assert.equal(queue.size, 0);
      await queue.put(2);
      await assert.rejects(queue.get({ signal }), (e) => e === reason);
      await assert.rejects(queue.put(3, { signal }), (e) => e === reason);
      await assert.rejects(queue.join({ signal }), (e) => e === reason);
      assert.equal(queue.size, 1);
      assert.equal(abortListeners(signal), 0);
    });
  });

  describe('shutdown', () => {
    it('refuses puts, drains gets, then refuses gets (Python 3.13)', async () => {
      const queue = new Queue<number>({ maxsize: 2 });
      await queue.put(1);
      await queue.put(2);
      const blockedPut = queue.put(3);
      queue.shutdown();
      assert.equal(queue.shutDown, true);
      await assert.rejects(blockedPut, (error) => {
        assert.ok(error instanceof QueueShutDownError);
        assert.equal(error.code, 'ERR_SWITCHYARD_QUEUE_SHUT_DOWN');
        return true;
      });
      await assert.rejects(
        queue.put(4),
        /Queue.put: the queue is shut down and accepts no more items/,
      );
      assert.throws(() => queue.putNowait(4), QueueShutDownError);
      assert.equal(await queue.get(), 1);
      assert.equal(queue.getNowait(), 2);
      await assert.rejects(queue.get(), /Queue.get: the queue is shut down and empty/);
      assert.throws(() => queue.getNowait(), QueueShutDownError);
    });

    it('rejects the gets waiting on an empty queue', async () => {
      const queue = new Queue<number>();
      const controller = new AbortController();
      const waiting = [queue.get(), queue.get({ signal: controller.signal })];
      queue.shutdown();
      for (const get of waiting) await assert.rejects(get, QueueShutDownError);
      assert.equal(abortListeners(controller.signal), 0);
    });

    it('rejects a put promised a slot in the same nextTurn as the shutdown, inserting nothing', async () => {
      const queue = new Queue<string>({ maxsize: 1 });
      await queue.put('a');
      const controller = new AbortController();
      const promised = queue.put('b', { signal: controller.signal });
      assert.equal(queue.getNowait(), 'a');
      queue.shutdown();
      await assert.rejects(promised, QueueShutDownError);
      assert.equal(queue.size, 0);
    });

    it('lets a get promised an item in the same nextTurn as a plain shutdown take it', async () => {
      const queue = new Queue<string>();
      const controller = new AbortController();
      const promised = queue.get({ signal: controller.signal });
      queue.putNowait('a');
      queue.shutdown();
      assert.equal(await promised, 'a');
    });

    it('keeps join waiting for the items still queued after a plain shutdown', async () => {
      const queue = new Queue<number>();
      await queue.put(1);
      queue.shutdown();
      const joined = queue.join();
      assert.equal((await settled(joined)).state, 'pending');
      await queue.get();
      queue.taskDone();
      await joined;
    });

    it('drops the rest and releases join on an immediate shutdown', async () => {
      const queue = new Queue<number>();
      for (const n of [1, 2, 3]) await queue.put(n);
      const joined = queue.join();
      queue.shutdown({ immediate: true });
      assert.equal(queue.size, 0);
      await joined;
      await assert.rejects(queue.get(), QueueShutDownError);
    });

    it('keeps join waiting, after an immediate shutdown, for items already got', async () => {
      const queue = new Queue<number>();
      await queue.put(1);
      await queue.put(2);
      await queue.get();
      queue.shutdown({ immediate: true });
      const joined = queue.join();
      assert.equal((await settled(joined)).state, 'pending');
      queue.taskDone();
      await joined;
      assert.throws(() => queue.taskDone(), /called more times/);
    });

    it('drops what a plain shutdown left when an immediate one follows', async () => {
      const queue = new Queue<number>();
      await queue.put(1);
      queue.shutdown();
      queue.shutdown({ immediate: true });
      assert.equal(queue.size, 0);
      await queue.join();
    });

    it('settles every pending promise: puts, gets and joins (p-limit #25, fastq #97)', async () => {
      const full = new Queue<number>({ maxsize: 1 });
      await full.put(0);
      const puts = Array.from({ length: 100 }, (_, i) => full.put(i + 1));
      const fullJoin = full.join();
      const empty = new Queue<number>();
      const gets = Array.from({ length: 100 }, () => empty.get());
      full.shutdown({ immediate: true });
      empty.shutdown();
      const outcomes = await Promise.allSettled([...puts, ...gets, fullJoin, empty.join()]);
      assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 200);
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 2);
      assert.equal(full.stats().waitingPutters, 0);
      assert.equal(empty.stats().waitingGetters, 0);
    });
  });

  describe('for await', () => {
    it('ends at shutdown after draining, marking each item done, so join works', async () => {
      const queue = new Queue<number>({ maxsize: 2 });
      const seen: number[] = [];
      const consumer = (async () => {
        for await (const item of queue) seen.push(item);
      })();
      for (const n of [1, 2, 3, 4]) await queue.put(n);
      await queue.join();
      queue.shutdown();
      await consumer;
      assert.deepEqual(seen, [1, 2, 3, 4]);
      assert.equal(queue.stats().unfinishedTasks, 0);
    });

    it('marks the current item done when the loop breaks or throws', async () => {
      const queue = new Queue<number>();
      for (const n of [1, 2, 3]) await queue.put(n);
      for await (const item of queue) {
        if (item === 1) break;
      }
      assert.equal(queue.stats().unfinishedTasks, 2);
      await assert.rejects(async () => {
        for await (const _ of queue) throw new Error('body failed');
      }, /body failed/);
      assert.equal(queue.stats().unfinishedTasks, 1);
    });

    it('leaves taskDone to the caller with autoTaskDone: false', async () => {
      const queue = new Queue<number>();
      await queue.put(1);
      queue.shutdown();
      for await (const _ of queue.iterate({ autoTaskDone: false })) {
        queue.taskDone();
      }
      await queue.join();
    });

    it('throws the signal reason when the signal aborts the loop', async () => {
      const queue = new Queue<number>();
      const controller = new AbortController();
      const reason = new Error('stop consuming');
      const consumer = (async () => {
        for await (const _ of queue.iterate({ signal: controller.signal })) {
          // nothing arrives
        }
      })();
      await nextTurn();
      controller.abort(reason);
      await assert.rejects(consumer, (e) => e === reason);
      assert.equal(queue.stats().waitingGetters, 0);
    });
  });

  it('reports a stats snapshot', async () => {
    const queue = new Queue<number>({ maxsize: 1 });
    await queue.put(1);
    const waiting = queue.put(2);
    await queue.get();
    await waiting;
    assert.deepEqual(queue.stats(), {
      size: 1,
      maxsize: 1,
      waitingPutters: 0,
      waitingGetters: 0,
      putTotal: 2,
      gotTotal: 1,
      cancelledTotal: 0,
      unfinishedTasks: 2,
      shutDown: false,
    });
  });
});

describe('PriorityQueue', () => {
  it('hands out the smallest item first', async () => {
    const queue = new PriorityQueue<number>();
    for (const n of [5, 1, 4, 2, 3]) await queue.put(n);
    assert.deepEqual(await drain(queue), [1, 2, 3, 4, 5]);
  });

  it('keeps items of equal priority in the order they were put', async () => {
    type Job = { priority: number; name: string };
    const queue = new PriorityQueue<Job>({ compare: (a, b) => a.priority - b.priority });
    const jobs = Array.from({ length: 50 }, (_, i) => ({ priority: i % 3, name: `job${i}` }));
    for (const job of jobs) queue.putNowait(job);
    const out = await drain(queue);
    const expected = [...jobs].sort((a, b) => a.priority - b.priority); // Array#sort is stable
    assert.deepEqual(
      out.map((j) => j.name),
      expected.map((j) => j.name),
    );
  });

  it('is a bounded Queue with the same waiting and errors', async () => {
    const queue = new PriorityQueue<number>({ maxsize: 1 });
    assert.ok(queue instanceof Queue);
    await queue.put(2);
    assert.throws(() => queue.putNowait(1), QueueFullError);
  });
});

describe('LifoQueue', () => {
  it('hands out the most recent item first', async () => {
    const queue = new LifoQueue<number>();
    for (const n of [1, 2, 3]) await queue.put(n);
    assert.deepEqual(await drain(queue), [3, 2, 1]);
    assert.ok(queue instanceof Queue);
  });
});
