import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type Task, TaskGroup, TaskGroupError } from '../../src/task/index.ts';
import { failOnUnhandledRejections, turns } from '../support/helpers.ts';

failOnUnhandledRejections();

// Random trees of groups and tasks, run for real and compared with a small model.
//
// Time is counted in event-loop turns (setImmediate hops): everything a failure or abort sets
// off (rejections, group cancellation, nested groups settling) runs in microtasks within the
// same turn, so with distinct leaf delays the real run is deterministic and the model exact.

type Outcome = 'ok' | 'fail' | 'cancelSelf' | 'hang' | 'stubbornOk' | 'stubbornFail';
type Leaf = { kind: 'leaf'; label: string; delay: number; outcome: Outcome };
type Group = { kind: 'group'; label: string; children: Node[] };
type Node = Leaf | Group;

// What the model predicts for a node when cancelled at `cancelAt` (Infinity: never).
type Result = {
  state: 'fulfilled' | 'rejected' | 'cancelled';
  time: number; // the turn it settles in
  failures?: Failure[]; // a group's failures (TaskGroupError contents)
};
type Failure = string | { group: string; errors: Failure[] };

function modelLeaf(leaf: Leaf, cancelAt: number): Result {
  const stubborn = leaf.outcome === 'stubbornOk' || leaf.outcome === 'stubbornFail';
  if (!stubborn && cancelAt < leaf.delay) return { state: 'cancelled', time: cancelAt };
  switch (leaf.outcome) {
    case 'ok':
    case 'stubbornOk':
      return { state: 'fulfilled', time: leaf.delay };
    case 'fail':
    case 'stubbornFail':
      return { state: 'rejected', time: leaf.delay };
    case 'cancelSelf':
      return { state: 'cancelled', time: leaf.delay };
    case 'hang':
      return { state: 'cancelled', time: cancelAt };
  }
}

/** A group under a parent cancelled at `parentAbortAt`; as a child task, and as a whole. */
function modelGroup(group: Group, parentAbortAt: number): Result & { children: Result[] } {
  // The group's own cancel time E starts at the parent's abort and moves earlier to its first
  // failure; events before E do not depend on E, so this settles in a few rounds.
  let cancelAt = parentAbortAt;
  let children: Result[] = [];
  for (;;) {
    children = group.children.map((child) => modelNode(child, cancelAt));
    const firstFailure = Math.min(
      ...children.filter((r) => r.state === 'rejected').map((r) => r.time),
    );
    if (firstFailure >= cancelAt) break;
    cancelAt = firstFailure;
  }
  const time = Math.max(0, ...children.map((r) => r.time));
  const failing = group.children
    .map((child, index) => ({ child, result: children[index]! }))
    .filter(({ result }) => result.state === 'rejected')
    .sort((a, b) => a.result.time - b.result.time);
  if (failing.length > 0) {
    const failures = failing.map(({ child, result }) =>
      child.kind === 'leaf' ? child.label : { group: child.label, errors: result.failures! },
    );
    return { state: 'rejected', time, failures, children };
  }
  // No failure: the group rejects with its parent's reason if the parent aborted first, which
  // makes it, as a child task, cancelled.
  return { state: parentAbortAt <= time ? 'cancelled' : 'fulfilled', time, children };
}

function modelNode(node: Node, cancelAt: number): Result {
  return node.kind === 'leaf' ? modelLeaf(node, cancelAt) : modelGroup(node, cancelAt);
}

class LeafError extends Error {}

/** Runs the tree for real; records every task so the test can check their final states. */
function runGroup(
  group: Group,
  signal: AbortSignal,
  tasks: Map<Node, Task<unknown>>,
): Promise<void> {
  const tg = new TaskGroup({ signal, name: group.label });
  for (const child of group.children) {
    const task: Task<unknown> =
      child.kind === 'group'
        ? tg.spawn((childSignal) => runGroup(child, childSignal, tasks))
        : tg.spawn((childSignal) => runLeaf(child, childSignal, (): Task<unknown> => task));
    tasks.set(child, task);
  }
  return tg.wait();
}

async function runLeaf(
  leaf: Leaf,
  signal: AbortSignal,
  self: () => Task<unknown>,
): Promise<string> {
  const stubborn = leaf.outcome === 'stubbornOk' || leaf.outcome === 'stubbornFail';
  await turns(
    leaf.outcome === 'hang' ? Number.POSITIVE_INFINITY : leaf.delay,
    stubborn ? undefined : signal,
  );
  if (leaf.outcome === 'fail' || leaf.outcome === 'stubbornFail') throw new LeafError(leaf.label);
  if (leaf.outcome === 'cancelSelf') {
    self().cancel();
    signal.throwIfAborted();
  }
  return leaf.label;
}

function describeFailure(error: unknown): Failure {
  if (error instanceof LeafError) return error.message;
  if (error instanceof TaskGroupError)
    return { group: error.group, errors: error.errors.map(describeFailure) };
  throw new Error(`unexpected failure in a group: ${String(error)}`);
}

function* nodes(node: Node): Generator<Node> {
  yield node;
  if (node.kind === 'group') for (const child of node.children) yield* nodes(child);
}

const outcomes: Outcome[] = ['ok', 'fail', 'cancelSelf', 'hang', 'stubbornOk', 'stubbornFail'];

const shape = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...outcomes),
    fc.array(tie('node'), { minLength: 1, maxLength: 4 }),
  ),
})).node;

/** Gives every leaf a distinct delay and every node a label. */
function build(raw: unknown, delays: number[], labels = { next: 0 }): Node {
  const label = `n${labels.next++}`;
  if (Array.isArray(raw))
    return { kind: 'group', label, children: raw.map((c) => build(c, delays, labels)) };
  return { kind: 'leaf', label, delay: delays.pop()!, outcome: raw as Outcome };
}

function countLeaves(raw: unknown): number {
  return Array.isArray(raw) ? raw.reduce((n: number, c) => n + countLeaves(c), 0) : 1;
}

const scenario = shape
  .map((raw) => (Array.isArray(raw) ? raw : [raw]))
  .chain((raw) =>
    fc.record({
      raw: fc.constant(raw),
      delays: fc.uniqueArray(fc.integer({ min: 1, max: 80 }), {
        minLength: countLeaves(raw) + 1,
        maxLength: countLeaves(raw) + 1,
      }),
      abortParent: fc.boolean(),
    }),
  );

describe('TaskGroup against a model', () => {
  it('settles every random tree of groups and tasks as the model says, leaving no task pending', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ raw, delays, abortParent }) => {
        const abortTurn = delays.pop()!;
        const root = build(raw, delays) as Group;
        const leaves = [...nodes(root)].filter((n): n is Leaf => n.kind === 'leaf');
        // A hanging task ends only by cancellation: make sure the parent aborts if nothing else.
        const parentAbortAt =
          abortParent || leaves.some((l) => l.outcome === 'hang')
            ? abortTurn
            : Number.POSITIVE_INFINITY;
        const expected = modelGroup(root, parentAbortAt);

        const parent = new AbortController();
        const reason = new Error('parent aborted');
        const tasks = new Map<Node, Task<unknown>>();
        const stopClock = new AbortController();
        if (parentAbortAt !== Number.POSITIVE_INFINITY) {
          turns(parentAbortAt, stopClock.signal).then(
            () => parent.abort(reason),
            () => {},
          );
        }
        const outcome = await runGroup(root, parent.signal, tasks).then(
          () => ({ state: 'fulfilled' as const }),
          (error: unknown) => ({ state: 'rejected' as const, error }),
        );
        stopClock.abort();

        if (expected.state === 'rejected') {
          assert.equal(outcome.state, 'rejected');
          assert.deepEqual(describeFailure((outcome as { error: unknown }).error), {
            group: root.label,
            errors: expected.failures,
          });
        } else if (expected.state === 'cancelled') {
          assert.deepEqual(outcome, { state: 'rejected', error: reason });
        } else {
          assert.deepEqual(outcome, { state: 'fulfilled' });
        }
        // Every task settled, each as the model says.
        const check = (group: Group, result: ReturnType<typeof modelGroup>) => {
          group.children.forEach((child, index) => {
            const task = tasks.get(child)!;
            const want = result.children[index]!;
            assert.equal(task.state, want.state, `task ${child.label}`);
            if (child.kind === 'group') check(child, want as ReturnType<typeof modelGroup>);
          });
        };
        check(root, expected);
      }),
      { numRuns: 500 },
    );
  });
});
