// `switchyard/pipeline`: the pipeline runtime (stages, bounded channels, journal, sinks), with
// the structured-concurrency layer it builds on.
export * from './cancel/index.ts';
export * from './pipeline/index.ts';
export * from './task/index.ts';
