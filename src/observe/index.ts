export { blockedChannel } from './channels.ts';
export {
  BlockDetector,
  type BlockReport,
  type DetectBlockingOptions,
  detectBlocking,
  type StackFrame,
} from './detect-blocking.ts';
export {
  type Instrumentation,
  type InstrumentOptions,
  instrumentQueue,
  instrumentSemaphore,
} from './instrument.ts';
export { LoopMonitor, type MonitorLoopOptions, monitorLoop } from './loop-monitor.ts';
export {
  ComponentMetrics,
  type ComponentSnapshot,
  DEFAULT_DURATION_BUCKETS,
  type LoopStats,
  Metrics,
  type MetricsOptions,
  type MetricsSnapshot,
  TASK_OUTCOMES,
} from './metrics.ts';
export { DurationHistogram, type DurationStats } from './percentiles.ts';
export { type MetricsServer, type ServeMetricsOptions, serveMetrics } from './serve.ts';
