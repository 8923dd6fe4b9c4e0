// The pool tests import the public API from one place.
export { TimeoutError } from '../../src/cancel/index.ts';
export * from '../../src/pool/index.ts';
