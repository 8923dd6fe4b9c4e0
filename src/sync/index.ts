export { Barrier } from './barrier.ts';
export { Condition } from './condition.ts';
export { BrokenBarrierError } from './errors.ts';
export { Event } from './event.ts';
export { BoundedSemaphore, Lock, Permit, Semaphore, type SemaphoreStats } from './semaphore.ts';
