import type { Task, TaskInfo } from './task.ts';
import { tracing } from './tracing.ts';

/** What the registry needs of a group: its live tasks. */
export interface LiveTasks {
  liveTasks(): readonly Task<unknown>[];
}

/** Groups with at least one running task; a group leaves as soon as it goes idle. */
export const busyGroups = new Set<LiveTasks>();

/**
 * Every live (pending) task in the process, like asyncio's `all_tasks()`: name, state, age,
 * group and, where recorded, spawn site. Recorded for named tasks, or for all once
 * `enableTaskTracing()` has been called.
 */
export function allTasks(): TaskInfo[] {
  const now = performance.now();
  const infos: TaskInfo[] = [];
  for (const group of busyGroups) {
    for (const task of group.liveTasks()) infos.push(task.info(now));
  }
  return infos;
}

/**
 * The task whose code is running, like asyncio's `current_task()`; `undefined` outside any
 * task. Needs task context, on by default on Node 24+, and on Node 20/22 switched on by
 * `enableTaskTracing()` (see there why it is not on by default).
 */
export function currentTask(): Task<unknown> | undefined {
  const storage = tracing.storage;
  if (storage === undefined) {
    throw new Error(
      'currentTask() needs task context, which is off on this Node version because it slows every promise: call enableTaskTracing() once at startup',
    );
  }
  return storage.getStore() as Task<unknown> | undefined;
}
