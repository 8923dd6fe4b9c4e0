// The public API of switchyard. Only re-exports live here.

export * from './advise/index.ts';
export * from './cancel/index.ts';
export * from './observe/index.ts';
export * from './pool/index.ts';
export * from './queue/index.ts';
export * from './resilience/index.ts';
export * from './sync/index.ts';
export * from './task/index.ts';
