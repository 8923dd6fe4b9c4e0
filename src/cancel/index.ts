export { CancelledError, SwitchyardError, TimeoutError } from './errors.ts';
export {
  type BreakerState,
  type ComponentSink,
  type MetricsSink,
  outcomeOf,
  type PoolThreadState,
  type TaskOutcome,
} from './metrics-sink.ts';
export { type AbortCallback, isAbortOf, onAbort } from './on-abort.ts';
export type { SignalOptions } from './options.ts';
export type { ExecuteOptions, Policy } from './policy.ts';
export { type SleepOptions, sleep } from './sleep.ts';
export { deadline, moveOnAfter, type TimeoutOptions, TimeoutPolicy, timeout } from './timeout.ts';
