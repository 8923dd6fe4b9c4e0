// `switchyard/worker`: what a worker module imports. It must never import anything that starts
// threads. The worker-side runtime (taskSignal, callMain, callMainSync) arrives with pool/;
// until then it offers the cancellation layer, which is safe on any thread.
export * from './cancel/index.ts';
