export { type AsCompletedOptions, asCompleted } from './as-completed.ts';
export { GroupClosedError, TaskGroupError } from './errors.ts';
export { type GatherOptions, gather } from './gather.ts';
export type { Awaitable, AwaitedItem } from './items.ts';
export { allTasks, currentTask } from './registry.ts';
export { Task, type TaskInfo, type TaskState } from './task.ts';
export {
  type SpawnOptions,
  type TaskFunction,
  TaskGroup,
  type TaskGroupOptions,
  taskGroup,
} from './task-group.ts';
export { enableTaskTracing, type TracingOptions } from './tracing.ts';
export { type ReturnWhen, type WaitOptions, type WaitResult, wait } from './wait.ts';
