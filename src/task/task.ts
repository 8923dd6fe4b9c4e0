import { CancelledError } from '../cancel/errors.ts';
import { isAbortOf } from '../cancel/on-abort.ts';
import { SpawnSite, tracing } from './tracing.ts';

export type TaskState = 'pending' | 'fulfilled' | 'rejected' | 'cancelled';

/** What `allTasks()` shows of a task. */
export interface TaskInfo {
  id: number;
  name: string;
  state: TaskState;
  /** Milliseconds since the task was spawned. */
  ageMs: number;
  /** The name of the group it belongs to. */
  group: string;
  /** Where `spawn()` was called, when it was recorded (named tasks, or tracing on). */
  spawnSite: string | undefined;
}

/** The side of a TaskGroup that its tasks talk to. */
export interface TaskOwner {
  readonly name: string;
  readonly signal: AbortSignal;
  taskSettled(task: Task<unknown>, state: TaskState, error: unknown): void;
}

let nextId = 1;

/**
 * One unit of work in a TaskGroup: `spawn()` returns it. It is awaitable (thenable); awaiting a
 * failed or cancelled task rejects with its error or its cancellation reason. Awaiting it is
 * optional: the group observes every outcome, so nothing here is ever an unhandled rejection.
 */
export class Task<T> implements PromiseLike<T> {
  readonly id = nextId++;
  /** `performance.now()` at spawn. */
  readonly spawnedAt = performance.now();
  readonly #owner: TaskOwner;
  readonly #name: string | undefined;
  readonly #fnName: string;
  readonly #site: SpawnSite | undefined;
  #state: TaskState = 'pending';
  #value: unknown;
  // Created only when the function declares a signal parameter, or someone asks for
  // `task.signal`: an AbortSignal costs ~2 µs to create on Node 20, more than a whole spawn.
  #controller: AbortController | undefined;
  #cancelReason: unknown;
  #promise: Promise<T> | undefined;
  // Typed loosely so that Task<T> stays covariant (a Task<string> is a Task<unknown>).
  #resolve: ((value: unknown) => void) | undefined;
  #reject: ((reason: unknown) => void) | undefined;
  /** @internal Position in the owner's live list (swap-remove). */
  slot = -1;

  /** @internal Tasks are made by `TaskGroup#spawn`. */
  constructor(owner: TaskOwner, fn: Function, name: string | undefined, spawner: Function) {
    this.#owner = owner;
    this.#name = name;
    this.#fnName = fn.name;
    if (name !== undefined || tracing.allSpawnSites) this.#site = new SpawnSite(spawner);
  }

  /** The name given at spawn, else the function's name, else `task-<id>`. */
  get name(): string {
    return this.#name ?? (this.#fnName || `task-${this.id}`);
  }

  get state(): TaskState {
    return this.#state;
  }

  /** Where `spawn()` was called, when recorded (named tasks, or with `enableTaskTracing`). */
  get spawnSite(): string | undefined {
    return this.#site?.toString();
  }

  /**
   * The task's own signal: aborted by `cancel()`, and by the group's cancellation. A function
   * that declares a parameter receives it at spawn; others can read it here (or through
   * `currentTask().signal`), and it is created on first use.
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      if (this.#cancelReason !== undefined) controller.abort(this.#cancelReason);
      else if (this.#owner.signal.aborted && this.#state === 'pending') {
        controller.abort(this.#owner.signal.reason);
      }
    }
    return this.#controller.signal;
  }

  /**
   * Asks the task to stop: aborts its signal with `reason` (default a CancelledError). The
   * task is `cancelled` once it rejects with that reason; cancellation is cooperative, so a
   * task that ignores its signal runs on. No effect on a settled task.
   */
  cancel(reason?: unknown): void {
    if (this.#state !== 'pending' || this.#cancelReason !== undefined) return;
    this.#cancelReason = reason ?? new CancelledError(`task "${this.name}" cancelled`);
    this.#controller?.abort(this.#cancelReason);
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#outcome().then(onFulfilled, onRejected);
  }

  /** A snapshot for `allTasks()` and stuck-task reports. */
  info(now = performance.now()): TaskInfo {
    return {
      id: this.id,
      name: this.name,
      state: this.#state,
      ageMs: Math.round(now - this.spawnedAt),
      group: this.#owner.name,
      spawnSite: this.spawnSite,
    };
  }

  /** @internal Runs `fn` now, synchronously, as promise executors do. */
  start(fn: (signal: AbortSignal) => T | PromiseLike<T>): void {
    const signal = fn.length > 0 ? this.signal : this.#owner.signal;
    let result: T | PromiseLike<T>;
    try {
      const storage = tracing.storage;
      result = storage === undefined ? fn(signal) : storage.run(this, fn, signal);
    } catch (error) {
      this.#failed(error);
      return;
    }
    if (isThenable(result)) {
      try {
        result.then(
          (value) => this.#settle('fulfilled', value),
          (error) => this.#failed(error),
        );
      } catch (error) {
        this.#failed(error);
      }
    } else {
      this.#settle('fulfilled', result);
    }
  }

  /** @internal Settles a task that never ran: its group was cancelled before it started. */
  cancelBeforeStart(reason: unknown): void {
    this.#cancelReason = reason;
    this.#state = 'cancelled';
    this.#value = reason;
  }

  /** @internal The group's cancellation reaching a task that has its own signal. */
  abortOwnSignal(reason: unknown): void {
    this.#controller?.abort(reason);
  }

  #failed(error: unknown): void {
    this.#settle(this.#isOwnCancellation(error) ? 'cancelled' : 'rejected', error);
  }

  #isOwnCancellation(error: unknown): boolean {
    if (this.#controller !== undefined) return isAbortOf(error, this.#controller.signal);
    return (
      (this.#cancelReason !== undefined && error === this.#cancelReason) ||
      isAbortOf(error, this.#owner.signal)
    );
  }

  #settle(state: TaskState, value: unknown): void {
    if (this.#state !== 'pending') return;
    this.#state = state;
    this.#value = value;
    if (state === 'fulfilled') this.#resolve?.(value);
    else this.#reject?.(value);
    this.#owner.taskSettled(this as Task<unknown>, state, value);
  }

  #outcome(): Promise<T> {
    if (this.#promise === undefined) {
      if (this.#state === 'fulfilled') this.#promise = Promise.resolve(this.#value as T);
      else if (this.#state !== 'pending') this.#promise = Promise.reject(this.#value);
      else {
        this.#promise = new Promise<T>((resolve, reject) => {
          this.#resolve = resolve as (value: unknown) => void;
          this.#reject = reject;
        });
      }
    }
    return this.#promise;
  }
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<T>).then === 'function'
  );
}
