// `switchyard/worker`: what a worker module imports. It must never import anything that starts
// threads: the cancellation layer, the worker-side runtime and the shared-memory types.
export * from './cancel/index.ts';
export { BrokenResourceError } from './pool/errors.ts';
export { SharedCounter, SharedMutex } from './pool/shared.ts';
export { callMain, callMainSync, inPoolWorker, taskSignal } from './pool/worker-runtime.ts';
