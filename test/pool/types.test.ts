// Type tests: `npx tsc --noEmit` checks them; the runtime test keeps them from rotting unseen.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type ModuleHandle, ThreadPool } from './imports.ts';
import { type Tasks, tasks } from './support.ts';

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T extends true>(_proof?: T) => {};

it('maps every exported function of a module to an async function with trailing options', async () => {
  await using pool = new ThreadPool({ maxThreads: 1 });
  const w = pool.module<Tasks>(tasks);
  expectType<Equal<Awaited<ReturnType<typeof w.add>>, number>>();
  // Generic exports lose their type parameters (TypeScript cannot map them): unknown in, out.
  expectType<Equal<ReturnType<typeof w.echoLater>, Promise<unknown>>>();
  expectType<
    Equal<
      Parameters<typeof w.add>,
      [a: number, b: number, options?: import('./imports.ts').RunOptions]
    >
  >();
  // Non-function exports (the error class is a function too, but constructs) are kept out:
  type Keys = keyof ModuleHandle<{ n: number; f: () => void }>;
  expectType<Equal<Keys, 'f'>>();
  const sum: number = await w.add(1, 2, { timeoutMs: 30_000 });
  assert.equal(sum, 3);
  // @ts-expect-error: wrong argument type
  void w.add('1', 2).catch(() => {});
  // @ts-expect-error: no such export
  void w.nope;
  const n: number = await pool.run<number>(tasks, 'addOne', [1]);
  assert.equal(n, 2);
});
