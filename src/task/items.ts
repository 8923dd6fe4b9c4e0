/** What gather and asCompleted accept: a promise, or a factory that receives a signal. */
export type Awaitable<T> = PromiseLike<T> | ((signal: AbortSignal) => T | PromiseLike<T>);

/** The value an `Awaitable` settles with. */
export type AwaitedItem<I> = I extends (signal: AbortSignal) => infer R ? Awaited<R> : Awaited<I>;

/** Starts one item: calls a factory with `signal`, turning a synchronous throw into a rejection. */
export function startItem<T>(item: Awaitable<T>, signal: () => AbortSignal): PromiseLike<T> {
  if (typeof item !== 'function') return item;
  try {
    return Promise.resolve(item(signal()));
  } catch (error) {
    return Promise.reject(error);
  }
}
