export { advise, LEAK_BYTES_PER_CALL } from './advise.ts';
export { AdviseCallError, AdviseLoadError } from './errors.ts';
export { formatAdvice } from './format.ts';
export type {
  Advice,
  AdviseOptions,
  AdviseOutcome,
  CallFigures,
  CpuSource,
  Estimate,
  Failure,
  Lane,
  LaneEstimate,
  MemoryFigures,
  Sample,
  Stat,
  TransferFigures,
  Verdict,
  WorkloadKind,
} from './types.ts';
export {
  COMPUTE_SHARE,
  LOOP_STRETCH_MS,
  MAX_BLOCKING_THREADS,
  MIN_SPEEDUP,
  PROCESS_DISPATCH_MS,
  RESPONSIVENESS_MS,
  THREAD_DISPATCH_MS,
} from './verdict.ts';
