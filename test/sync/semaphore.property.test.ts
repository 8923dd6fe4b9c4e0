/**
 * Random interleavings of acquire / tryAcquire / release / cancel, run against the real
 * Semaphore and a simple synchronous model of it, compared after every step.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type Permit, Semaphore } from '../../src/sync/index.ts';
import { failOnUnhandledRejections, nextTurn } from '../support/helpers.ts';

failOnUnhandledRejections();

type Op =
  | { t: 'acquire'; withSignal: boolean }
  | { t: 'try' }
  | { t: 'release'; k: number }
  | { t: 'releaseAgain'; k: number }
  | { t: 'abort'; k: number }
  | { t: 'nextTurn' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant('acquire' as const), withSignal: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('try' as const) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('release' as const), k: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('releaseAgain' as const), k: fc.nat(20) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('abort' as const), k: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('nextTurn' as const) }) },
);

type ModelState = 'queued' | 'tentative' | 'granted' | 'cancelled';

interface Waiter {
  id: number;
  controller: AbortController | undefined;
  reason: Error;
  outcome: 'pending' | 'fulfilled' | 'rejected';
  permit?: Permit;
  rejection?: unknown;
  model: ModelState;
}

describe('Semaphore properties', () => {
  it('matches a FIFO model: no permit leaked or duplicated, cancelled waits hold none', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(opArb, { maxLength: 40 }),
        async (permits, ops) => {
          const sem = new Semaphore(permits);
          let available = permits; // the model
          const queue: Waiter[] = []; // model: queued waiters in arrival order
          const waiters: Waiter[] = [];
          const held: Permit[] = []; // permits really in hand, not yet released
          const released: Permit[] = [];

          const grantNext = () => {
            const next = queue.shift();
            if (next === undefined) available++;
            else next.model = next.controller ? 'tentative' : 'granted';
          };

          const check = (where: string) => {
            assert.equal(sem.available, available, `available after ${where}`);
            assert.equal(sem.waiting, queue.length, `waiting after ${where}`);
          };

          const settleCheck = () => {
            for (const w of waiters) {
              if (w.model === 'tentative') w.model = 'granted';
              const expected =
                w.model === 'granted'
                  ? 'fulfilled'
                  : w.model === 'cancelled'
                    ? 'rejected'
                    : 'pending';
              assert.equal(w.outcome, expected, `waiter ${w.id} (${w.model})`);
              if (w.outcome === 'rejected') assert.equal(w.rejection, w.reason);
              if (w.outcome === 'fulfilled' && w.permit !== undefined) {
                held.push(w.permit);
                w.permit = undefined;
              }
            }
          };

          for (const op of ops) {
            switch (op.t) {
              case 'acquire': {
                const controller = op.withSignal ? new AbortController() : undefined;
                const w: Waiter = {
                  id: waiters.length,
                  controller,
                  reason: new Error(`abort ${waiters.length}`),
                  outcome: 'pending',
                  model: 'queued',
                };
                waiters.push(w);
                sem.acquire({ signal: controller?.signal }).then(
                  (permit) => {
                    w.outcome = 'fulfilled';
                    w.permit = permit;
                  },
                  (error: unknown) => {
                    w.outcome = 'rejected';
                    w.rejection = error;
                  },
                );
                if (available > 0 && queue.length === 0) {
                  available--;
                  w.model = 'granted';
                } else {
                  queue.push(w);
                }
                break;
              }
              case 'try': {
                const permit = sem.tryAcquire();
                if (available > 0 && queue.length === 0) {
                  available--;
                  assert.ok(permit !== undefined, 'tryAcquire should succeed');
                  held.push(permit);
                } else {
                  assert.equal(permit, undefined, 'tryAcquire must not barge');
                }
                break;
              }
              case 'release': {
                if (held.length === 0) break;
                const [permit] = held.splice(op.k % held.length, 1);
                permit!.release();
                released.push(permit!);
                grantNext();
                break;
              }
              case 'releaseAgain': {
                if (released.length === 0) break;
                released[op.k % released.length]!.release(); // idempotent: no model change
                break;
              }
              case 'abort': {
                const live = waiters.filter((w) => w.controller && !w.controller.signal.aborted);
                if (live.length === 0) break;
                const w = live[op.k % live.length]!;
                w.controller!.abort(w.reason);
                if (w.model === 'queued') {
                  queue.splice(queue.indexOf(w), 1);
                  w.model = 'cancelled';
                } else if (w.model === 'tentative') {
                  w.model = 'cancelled';
                  grantNext();
                }
                break;
              }
              case 'nextTurn':
                await nextTurn();
                settleCheck();
                break;
            }
            check(op.t);
          }

          // Wind down: cancel what can be cancelled, then keep releasing until all are back.
          await nextTurn();
          settleCheck();
          for (const w of [...queue]) {
            if (!w.controller) continue;
            w.controller.abort(w.reason);
            queue.splice(queue.indexOf(w), 1);
            w.model = 'cancelled';
          }
          while (held.length > 0) {
            held.pop()!.release();
            grantNext();
            await nextTurn();
            settleCheck();
            check('wind-down');
          }
          assert.equal(queue.length, 0, 'every waiter was served or cancelled');
          assert.equal(sem.waiting, 0);
          assert.equal(sem.available, permits, 'every permit came back exactly once');
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('grants permits in arrival order among the waits that were not cancelled', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(19), { maxLength: 10 }),
        async (permits, cancelFlags, cancelOrder) => {
          const sem = new Semaphore(permits);
          const blockers = Array.from({ length: permits }, () => sem.tryAcquire()!);
          const order: number[] = [];
          const inHand: Permit[] = [];
          const controllers = cancelFlags.map(() => new AbortController());
          for (const [i, controller] of controllers.entries()) {
            sem.acquire({ signal: controller.signal }).then(
              (permit) => {
                order.push(i);
                inHand.push(permit);
              },
              () => undefined,
            );
          }
          const cancelled = new Set<number>();
          for (const k of cancelOrder) {
            const i = k % cancelFlags.length;
            if (cancelFlags[i]) {
              controllers[i]!.abort();
              cancelled.add(i);
            }
          }
          for (const blocker of blockers) blocker.release();
          await nextTurn();
          while (inHand.length > 0) {
            inHand.shift()!.release();
            await nextTurn();
          }
          assert.equal(sem.waiting, 0);
          const expected = Array.from(cancelFlags.keys()).filter((i) => !cancelled.has(i));
          assert.deepEqual(order, expected);
          assert.equal(sem.available, permits);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
