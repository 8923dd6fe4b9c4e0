export {
  BrokenResourceError,
  type CrashLimit,
  PoolClosedError,
  RemoteValueError,
  type WorkerCrashedDetails,
  WorkerCrashedError,
} from './errors.ts';
export {
  type CloseOptions,
  crashChannel,
  type MainHandler,
  type ModuleHandle,
  Pool,
  type PoolOptions,
  type PoolStats,
  type RunOptions,
  spawnChannel,
  stopChannel,
  stuckChannel,
} from './pool.ts';
export { SharedCounter, SharedMutex } from './shared.ts';
export { ProcessPool, ThreadPool } from './thread-pool.ts';
export { defaultThreadPool, toThread } from './to-thread.ts';
