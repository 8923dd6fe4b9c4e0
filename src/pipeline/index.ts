export { PipelineError } from './errors.ts';
export type { Journal, JournalBegin, TransactionalSink } from './journal.ts';
export {
  Pipeline,
  PipelineBuilder,
  type PipelineOptions,
  pipeline,
  RunnablePipeline,
  type SinkStageOptions,
  type SourceOptions,
  type StageOptions,
} from './pipeline.ts';
export {
  type KeyedPolicyLike,
  MAX_REPORTED_DEAD_LETTERS,
  type PipelineRunOptions,
} from './runtime.ts';
export { SqliteJournal, type SqliteJournalOptions, sqliteJournal } from './sqlite-journal.ts';
export { SqliteSink, type SqliteSinkOptions, sqliteSink } from './sqlite-sink.ts';
export type {
  DeadLetter,
  ItemKey,
  PipelineReport,
  PipelineTotals,
  PoolTaskFunction,
  Sink,
  SinkFunction,
  SinkRecord,
  StageChannel,
  StageContext,
  StageFunction,
  StageReport,
} from './types.ts';
