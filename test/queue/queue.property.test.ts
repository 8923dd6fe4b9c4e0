/**
 * Random interleavings of put / putNowait / get / getNowait / cancel / taskDone / shutdown,
 * checked against what a queue must guarantee: no item lost or duplicated, FIFO order, size
 * never above maxsize, cancelled waits neither take nor insert, everything settles.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  LifoQueue,
  PriorityQueue,
  Queue,
  QueueEmptyError,
  QueueFullError,
  QueueShutDownError,
} from '../../src/queue/index.ts';
import { failOnUnhandledRejections, nextTurn } from '../support/helpers.ts';

failOnUnhandledRejections();

type Op =
  | { t: 'put'; withSignal: boolean }
  | { t: 'putNowait' }
  | { t: 'get'; withSignal: boolean }
  | { t: 'getNowait' }
  | { t: 'abort'; k: number }
  | { t: 'taskDone' }
  | { t: 'shutdown'; immediate: boolean }
  | { t: 'nextTurn' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('put' as const), withSignal: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('putNowait' as const) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('get' as const), withSignal: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('getNowait' as const) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('abort' as const), k: fc.nat(30) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('taskDone' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('shutdown' as const), immediate: fc.boolean() }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('nextTurn' as const) }) },
);

interface Call {
  controller: AbortController | undefined;
  reason: Error;
  outcome: 'pending' | 'fulfilled' | 'rejected';
  rejection?: unknown;
}
interface PutCall extends Call {
  item: number;
}
interface GetCall extends Call {
  value?: number;
}

type Kind = 'fifo' | 'lifo' | 'priority';

async function runScenario(kind: Kind, maxsize: number, ops: Op[]): Promise<void> {
  const queue =
    kind === 'fifo'
      ? new Queue<number>({ maxsize })
      : kind === 'lifo'
        ? new LifoQueue<number>({ maxsize })
        : new PriorityQueue<number>({ maxsize, compare: (a, b) => (a % 3) - (b % 3) });
  let nextItem = 0;
  const puts: PutCall[] = [];
  const gets: GetCall[] = [];
  const nowPut: number[] = [];
  const nowGot: number[] = [];
  let dropped = 0;
  let done = 0;

  const track = <C extends Call>(
    call: C,
    promise: Promise<unknown>,
    onValue?: (v: unknown) => void,
  ) => {
    promise.then(
      (value) => {
        call.outcome = 'fulfilled';
        onValue?.(value);
      },
      (error: unknown) => {
        call.outcome = 'rejected';
        call.rejection = error;
      },
    );
  };
  const newCall = (withSignal: boolean): Call => ({
    controller: withSignal ? new AbortController() : undefined,
    reason: new Error('cancelled'),
    outcome: 'pending',
  });

  const checkSettled = () => {
    const pendingGets = gets.filter((g) => g.outcome === 'pending').length;
    const pendingPuts = puts.filter((p) => p.outcome === 'pending').length;
    assert.equal(queue.stats().waitingGetters, pendingGets, 'waiting getters');
    assert.equal(queue.stats().waitingPutters, pendingPuts, 'waiting putters');
    for (const call of [...puts, ...gets]) {
      if (call.outcome !== 'rejected') continue;
      const ok =
        call.rejection === call.reason ||
        (call.rejection instanceof QueueShutDownError && queue.shutDown);
      assert.ok(ok, `unexpected rejection ${String(call.rejection)}`);
    }
  };

  for (const op of ops) {
    switch (op.t) {
      case 'put': {
        const call: PutCall = { ...newCall(op.withSignal), item: nextItem++ };
        puts.push(call);
        track(call, queue.put(call.item, { signal: call.controller?.signal }));
        break;
      }
      case 'putNowait': {
        const item = nextItem++;
        try {
          queue.putNowait(item);
          nowPut.push(item);
        } catch (error) {
          assert.ok(error instanceof QueueFullError || error instanceof QueueShutDownError);
        }
        break;
      }
      case 'get': {
        const call: GetCall = newCall(op.withSignal);
        gets.push(call);
        track(call, queue.get({ signal: call.controller?.signal }), (value) => {
          call.value = value as number;
        });
        break;
      }
      case 'getNowait': {
        try {
          nowGot.push(queue.getNowait());
        } catch (error) {
          assert.ok(error instanceof QueueEmptyError || error instanceof QueueShutDownError);
        }
        break;
      }
      case 'abort': {
        const live = [...puts, ...gets].filter(
          (c) => c.controller && !c.controller.signal.aborted && c.outcome === 'pending',
        );
        if (live.length > 0) {
          const call = live[op.k % live.length]!;
          call.controller!.abort(call.reason);
        }
        break;
      }
      case 'taskDone': {
        const got = nowGot.length + gets.filter((g) => g.outcome === 'fulfilled').length;
        if (got > done) {
          queue.taskDone();
          done++;
        }
        break;
      }
      case 'shutdown':
        if (op.immediate) dropped += queue.size;
        queue.shutdown({ immediate: op.immediate });
        break;
      case 'nextTurn':
        await nextTurn();
        checkSettled();
        break;
    }
    if (maxsize > 0) assert.ok(queue.size <= maxsize, `size ${queue.size} > maxsize ${maxsize}`);
  }

  // Shut down, let everything settle, drain the rest.
  await nextTurn();
  queue.shutdown();
  await nextTurn();
  checkSettled();
  for (const call of [...puts, ...gets]) assert.notEqual(call.outcome, 'pending', 'all settled');
  const remaining: number[] = [];
  while (queue.size > 0) remaining.push(queue.getNowait());
  assert.throws(() => queue.getNowait(), QueueShutDownError);

  // Conservation: every item that entered comes out exactly once (or was dropped).
  const entered = [...nowPut, ...puts.filter((p) => p.outcome === 'fulfilled').map((p) => p.item)];
  const delivered = [
    ...nowGot,
    ...gets.filter((g) => g.outcome === 'fulfilled').map((g) => g.value!),
    ...remaining,
  ];
  assert.equal(new Set(delivered).size, delivered.length, 'no item delivered twice');
  const enteredSet = new Set(entered);
  for (const item of delivered) assert.ok(enteredSet.has(item), `item ${item} never entered`);
  assert.equal(entered.length - delivered.length, dropped, 'only shutdown(immediate) drops items');
  assert.equal(queue.stats().unfinishedTasks, entered.length - done - dropped);

  if (kind === 'fifo') {
    // Items enter in put-call order and leave oldest first, to getters in call order.
    const increasing = (items: number[], what: string) => {
      for (let i = 1; i < items.length; i++) assert.ok(items[i - 1]! < items[i]!, what);
    };
    const gotByGetCall = gets.filter((x) => x.outcome === 'fulfilled').map((x) => x.value!);
    increasing(gotByGetCall, 'awaited gets are served in arrival order, oldest item first');
    increasing(nowGot, 'getNowait hands out the oldest item');
    increasing(remaining, 'what is left is in insertion order');
    const newestGot = Math.max(-1, ...gotByGetCall, ...nowGot);
    if (remaining.length > 0) {
      assert.ok(newestGot < remaining[0]!, 'nothing newer was handed out before something older');
    }
  }
}

describe('Queue properties', () => {
  for (const kind of ['fifo', 'lifo', 'priority'] as const) {
    it(`keeps every ${kind} item exactly once, within maxsize, under random interleavings`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 3 }),
          fc.array(opArb, { maxLength: 40 }),
          (maxsize, ops) => runScenario(kind, maxsize, ops),
        ),
        { numRuns: 1000 },
      );
    });
  }
});
