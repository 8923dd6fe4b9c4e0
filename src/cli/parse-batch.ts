/**
 * Parse batching for `fetch`: bodies that arrive in the same turn of the event loop go to the
 * parser thread as one task. A pool task costs one `postMessage` each way whatever its size, and
 * responses arrive one socket read at a time, so without batching every 2 KB page paid a whole
 * message — measured as the largest single cost on the main thread (bench/cli/). The batch is
 * closed by `setImmediate`, i.e. after the poll phase has delivered every response that was
 * ready: an idle run waits for nothing, a busy one sends dozens of pages per message.
 *
 * The bodies travel in one ArrayBuffer that is transferred, not copied.
 */
import type { PageFacts } from './parse-worker.ts';

/** One page's facts, or why parsing it threw. */
export type ParseOutcome = PageFacts | { error: string };

/** The worker call: `parseMany` of parse-worker.ts, through the pool. */
export type ParseMany = (
  bodies: ArrayBuffer,
  ends: number[],
  baseUrls: string[],
  html: boolean[],
  options: { signal: AbortSignal; transfer: ArrayBuffer[] },
) => Promise<ParseOutcome[]>;

interface Pending {
  body: Uint8Array;
  baseUrl: string;
  html: boolean;
  resolve: (facts: PageFacts) => void;
  reject: (error: unknown) => void;
}

export interface ParseBatcherOptions {
  /** Most pages in one task. Default 64. */
  maxPages?: number | undefined;
  /** A batch is sent at once when its bodies reach this many bytes. Default 1 MiB. */
  maxBytes?: number | undefined;
}

export class ParseBatcher {
  readonly #run: ParseMany;
  readonly #maxPages: number;
  readonly #maxBytes: number;
  /** Open batches, one per signal (the pipeline gives every item of a stage the same one). */
  readonly #open = new Map<AbortSignal, { items: Pending[]; bytes: number }>();
  #scheduled: NodeJS.Immediate | undefined;
  /** Tasks sent and pages in them: for the summary and the tests. */
  batches = 0;
  pages = 0;

  constructor(run: ParseMany, options: ParseBatcherOptions = {}) {
    this.#run = run;
    this.#maxPages = options.maxPages ?? 64;
    this.#maxBytes = options.maxBytes ?? 1024 * 1024;
  }

  /** Resolves with the page's facts; rejects with the parse error, or the signal's reason. */
  parse(body: Uint8Array, baseUrl: string, html: boolean, signal: AbortSignal): Promise<PageFacts> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<PageFacts>((resolve, reject) => {
      let batch = this.#open.get(signal);
      if (batch === undefined) {
        batch = { items: [], bytes: 0 };
        this.#open.set(signal, batch);
      }
      batch.items.push({ body, baseUrl, html, resolve, reject });
      batch.bytes += body.byteLength;
      if (batch.items.length >= this.#maxPages || batch.bytes >= this.#maxBytes) {
        this.#open.delete(signal);
        this.#send(batch.items, signal);
      } else {
        this.#scheduled ??= setImmediate(this.#flush);
      }
    });
  }

  readonly #flush = (): void => {
    this.#scheduled = undefined;
    const open = [...this.#open];
    this.#open.clear();
    for (const [signal, batch] of open) this.#send(batch.items, signal);
  };

  #send(items: Pending[], signal: AbortSignal): void {
    if (signal.aborted) {
      for (const item of items) item.reject(signal.reason);
      return;
    }
    let size = 0;
    for (const item of items) size += item.body.byteLength;
    const bodies = new ArrayBuffer(size);
    const view = new Uint8Array(bodies);
    const ends: number[] = [];
    let at = 0;
    for (const item of items) {
      view.set(item.body, at);
      at += item.body.byteLength;
      ends.push(at);
    }
    this.batches++;
    this.pages += items.length;
    this.#run(
      bodies,
      ends,
      items.map((i) => i.baseUrl),
      items.map((i) => i.html),
      { signal, transfer: [bodies] },
    ).then(
      (outcomes) => {
        for (let i = 0; i < items.length; i++) {
          const outcome = outcomes[i];
          if (outcome === undefined) items[i]!.reject(new Error('the parser returned no result'));
          else if ('error' in outcome) items[i]!.reject(new Error(outcome.error));
          else items[i]!.resolve(outcome);
        }
      },
      (error: unknown) => {
        for (const item of items) item.reject(error);
      },
    );
  }

  /** Sends what is waiting now (nothing is left behind when the stage stops). */
  close(): void {
    clearImmediate(this.#scheduled);
    this.#flush();
  }
}
