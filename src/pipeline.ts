// `switchyard/pipeline`: the pipeline runtime (stages, bounded channels, journal, sinks)
// arrives with pipeline/. Until then it offers the structured-concurrency layer it builds on.
export * from './cancel/index.ts';
export * from './task/index.ts';
