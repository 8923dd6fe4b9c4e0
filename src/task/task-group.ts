import { CancelledError } from '../cancel/errors.ts';
import { onAbort } from '../cancel/on-abort.ts';
import { checkDuration } from '../cancel/options.ts';
import { failedChannel, stuckChannel } from './channels.ts';
import { GroupClosedError, TaskGroupError } from './errors.ts';
import { busyGroups, type LiveTasks } from './registry.ts';
import { Task, type TaskOwner, type TaskState } from './task.ts';

export interface TaskGroupOptions {
  /** The parent's signal: aborting it cancels every task; the group then rejects with its reason. */
  signal?: AbortSignal | undefined;
  /** Shown in errors, `allTasks()` and stuck-task reports. Default `group-<n>`. */
  name?: string | undefined;
  /**
   * After the group is cancelled, how long tasks get to stop before the group publishes a
   * report on `switchyard:task:stuck` naming those still running. The group keeps waiting.
   * Default 5000.
   */
  cancelGraceMs?: number | undefined;
}

export interface SpawnOptions {
  /** A name for `allTasks()`, errors and reports; naming a task also records its spawn site. */
  name?: string | undefined;
}

export type TaskFunction<T> = (signal: AbortSignal) => T | PromiseLike<T>;

let nextGroupId = 1;

/**
 * A scope that no task outlives (asyncio's TaskGroup, trio's nursery).
 *
 * - `spawn(fn)` starts `fn(signal)` at once. `wait()` (or `await using`) waits for every task,
 *   including tasks spawned while waiting.
 * - The first failure aborts the group's signal, which cancels every sibling. The group still
 *   waits for all of them, then rejects with a `TaskGroupError` holding every failure.
 *   A task that rejects with its own signal's reason is `cancelled`, not failed.
 * - Aborting the parent `signal` cancels every task; with no failures the group rejects with
 *   the parent's reason. `cancel()` cancels every task and the group resolves normally.
 *
 * Invariants: `#live` holds exactly the pending tasks; a task's `slot` is its index there.
 * The parent listener and the registry entry exist exactly while `#live` is non-empty.
 */
export class TaskGroup implements TaskOwner, LiveTasks, AsyncDisposable {
  readonly name: string;
  readonly #controller = new AbortController();
  readonly #parent: AbortSignal | undefined;
  readonly #graceMs: number;
  readonly #live: Task<unknown>[] = [];
  readonly #failures: unknown[] = [];
  #closed: 'open' | 'failed' | 'finished' = 'open';
  #unsubscribeParent: (() => void) | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #done: Promise<void> | undefined;
  #resolveDone: (() => void) | undefined;
  #rejectDone: ((reason: unknown) => void) | undefined;

  constructor(options: TaskGroupOptions = {}) {
    const { signal, name, cancelGraceMs = 5000 } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError('TaskGroup: signal must be an AbortSignal');
    }
    this.name = name ?? `group-${nextGroupId++}`;
    this.#parent = signal;
    this.#graceMs = checkDuration('TaskGroup', 'cancelGraceMs', cancelGraceMs, {
      allowInfinity: true,
    });
  }

  /** Aborted when the group is cancelled: by a failure, the parent, or `cancel()`. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Number of tasks still running. */
  get size(): number {
    return this.#live.length;
  }

  /**
   * Starts `fn(signal)` now as a task of this group. Throws `GroupClosedError` once the group
   * has finished, and the group's cancellation reason while it is cancelling after a failure.
   * In a group cancelled by its parent or `cancel()`, the task is cancelled before it starts:
   * `fn` is not called.
   */
  spawn<T>(fn: TaskFunction<T>, options?: SpawnOptions): Task<T> {
    if (typeof fn !== 'function') {
      throw new TypeError(`spawn: expected a function (signal) => ..., got ${typeof fn}`);
    }
    if (this.#closed === 'finished') throw this.#closedError(options?.name ?? fn.name);
    // Cancelling after a failure: throw the group's reason (a CancelledError caused by the
    // failure), so a body that spawns in a loop ends as cancelled, not as a second failure.
    if (this.#closed === 'failed') throw this.#controller.signal.reason;
    const task = new Task<T>(this, fn, options?.name, this.spawn);
    const signal = this.#controller.signal;
    if (!signal.aborted && this.#parent?.aborted) this.#cancel(this.#parent.reason);
    if (signal.aborted) {
      task.cancelBeforeStart(signal.reason);
      return task;
    }
    if (this.#live.length === 0) this.#becomeBusy();
    task.slot = this.#live.push(task as Task<unknown>) - 1;
    task.start(fn);
    return task;
  }

  /**
   * Resolves once every task has settled and none failed. Rejects with `TaskGroupError` if any
   * failed, else with the parent's reason if the parent aborted. The group is closed after.
   */
  wait(): Promise<void> {
    if (this.#done === undefined) {
      this.#done = new Promise<void>((resolve, reject) => {
        this.#resolveDone = resolve;
        this.#rejectDone = reject;
      });
      if (this.#live.length === 0) this.#finish();
    }
    return this.#done;
  }

  /** Cancels every task (and every later spawn). Unlike a failure, `wait()` then resolves. */
  cancel(reason?: unknown): void {
    if (this.#controller.signal.aborted) return;
    this.#cancel(reason ?? new CancelledError(`task group "${this.name}" cancelled`));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.wait();
  }

  /** @internal */
  liveTasks(): readonly Task<unknown>[] {
    return this.#live;
  }

  /** @internal Called by each task exactly once, when it settles. */
  taskSettled(task: Task<unknown>, state: TaskState, error: unknown): void {
    const live = this.#live;
    const last = live.pop()!;
    if (last !== task) {
      live[task.slot] = last;
      last.slot = task.slot;
    }
    if (state === 'rejected') {
      this.#failures.push(error);
      if (failedChannel.hasSubscribers) {
        failedChannel.publish({ group: this.name, task: task.name, error });
      }
      if (this.#closed === 'open') this.#closed = 'failed';
      if (!this.#controller.signal.aborted) {
        this.#cancel(
          new CancelledError(`task group "${this.name}" cancelled: task "${task.name}" failed`, {
            cause: error,
          }),
        );
      }
    }
    if (live.length === 0) {
      this.#becomeIdle();
      if (this.#done !== undefined) this.#finish();
    }
  }

  #cancel(reason: unknown): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(reason);
    for (const task of this.#live) task.abortOwnSignal(reason);
    if (this.#live.length > 0 && this.#graceMs !== Number.POSITIVE_INFINITY) {
      // Ref'd on purpose: if the stuck tasks wait on nothing that keeps the process alive, the
      // report still goes out before the process exits with their promises unsettled.
      this.#graceTimer = setTimeout(() => this.#reportStuck(), this.#graceMs);
    }
  }

  #reportStuck(): void {
    this.#graceTimer = undefined;
    if (this.#live.length === 0 || !stuckChannel.hasSubscribers) return;
    const now = performance.now();
    stuckChannel.publish({
      group: this.name,
      reason: this.#controller.signal.reason,
      graceMs: this.#graceMs,
      tasks: this.#live.map((task) => task.info(now)),
    });
  }

  #becomeBusy(): void {
    busyGroups.add(this);
    const parent = this.#parent;
    if (parent !== undefined)
      this.#unsubscribeParent = onAbort(parent, (reason) => this.#cancel(reason));
  }

  #becomeIdle(): void {
    busyGroups.delete(this);
    this.#unsubscribeParent?.();
    this.#unsubscribeParent = undefined;
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
  }

  #finish(): void {
    this.#closed = 'finished';
    if (this.#failures.length > 0) {
      this.#rejectDone!(new TaskGroupError(this.#failures, this.name));
    } else if (this.#parent?.aborted) {
      this.#rejectDone!(this.#parent.reason);
    } else {
      this.#resolveDone!();
    }
  }

  #closedError(taskName: string): GroupClosedError {
    const what = taskName ? `task "${taskName}"` : 'a task';
    return new GroupClosedError(
      `cannot spawn ${what}: task group "${this.name}" has finished; spawn inside its scope, before wait() settles`,
    );
  }
}

/**
 * The callback form: runs `body(tg)` as the group's first task, waits for every task, and
 * resolves with what `body` returned. A throw from `body` counts as a failure.
 *
 * @example
 * const pages = await taskGroup(async (tg) => {
 *   const tasks = urls.map((url) => tg.spawn((signal) => fetch(url, { signal })));
 *   return Promise.all(tasks);
 * });
 */
export async function taskGroup<T>(
  body: (group: TaskGroup) => T | PromiseLike<T>,
  options?: TaskGroupOptions,
): Promise<T> {
  if (options?.signal?.aborted) throw options.signal.reason;
  const group = new TaskGroup(options);
  const main = group.spawn(() => body(group), { name: `${group.name} body` });
  await group.wait();
  return main;
}
