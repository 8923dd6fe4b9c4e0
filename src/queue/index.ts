export { QueueEmptyError, QueueFullError, QueueShutDownError } from './errors.ts';
export {
  LifoQueue,
  PriorityQueue,
  type PriorityQueueOptions,
  Queue,
  type QueueIterateOptions,
  type QueueOptions,
  type QueueShutdownOptions,
  type QueueStats,
} from './queue.ts';
export type { QueueStore } from './store.ts';
