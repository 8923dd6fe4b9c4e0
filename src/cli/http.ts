/**
 * The HTTP side of `fetch`: one undici `Agent` (keep-alive connection pools per origin), GET
 * with a body size cap, redirects followed by hand (each hop checked: http/https only, at most
 * `maxRedirects`), and errors that say what happened and whether it is worth a retry.
 */
import { Agent, type Dispatcher } from 'undici';
import { TimeoutError } from '../cancel/errors.ts';
import { onAbort } from '../cancel/on-abort.ts';

export interface HttpOptions {
  /** Connections per origin (the per-host concurrency). */
  connections: number;
  /** Largest body accepted, bytes. */
  maxBodyBytes: number;
  /** Redirects followed before giving up. */
  maxRedirects: number;
  userAgent: string;
}

export interface HttpResponse {
  status: number;
  finalUrl: string;
  redirects: number;
  contentType: string;
  body: Buffer;
}

/** Why a fetch failed; `outcome` is what the results table records. */
export class FetchError extends Error {
  readonly outcome: string;
  readonly status: number | undefined;
  /** From Retry-After (429/503): the retry policy waits this long. */
  readonly retryAfterMs: number | undefined;
  /** Worth another attempt (network trouble, 408/425/429/5xx). */
  readonly retryable: boolean;
  /** Counts against the host's circuit breaker (network trouble, 5xx). */
  readonly hostFailure: boolean;

  constructor(
    outcome: string,
    message: string,
    options: {
      status?: number;
      retryAfterMs?: number | undefined;
      retryable?: boolean;
      hostFailure?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.outcome = outcome;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.retryable = options.retryable ?? false;
    this.hostFailure = options.hostFailure ?? false;
  }
}
FetchError.prototype.name = 'FetchError';

/** Retry-After: delay-seconds or an HTTP-date; undefined when absent or unreadable. */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now = Date.now(),
): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Parses a URL line: only absolute http/https URLs pass. */
export function parseHttpUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new FetchError('invalid', `not a URL: ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FetchError(
      'invalid',
      `only http and https are fetched, not ${url.protocol.slice(0, -1)}: ${text.slice(0, 200)}`,
    );
  }
  return url;
}

export class HttpClient {
  readonly #agent: Agent;
  readonly #options: HttpOptions;
  /** One object for every request: undici copies it into the request, never changes it. */
  readonly #headers: Record<string, string>;

  constructor(options: HttpOptions) {
    this.#options = options;
    this.#headers = { 'user-agent': options.userAgent, accept: 'text/html,*/*;q=0.8' };
    this.#agent = new Agent({
      connections: options.connections,
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 60_000,
      // Our own timeout policy bounds each attempt; these only catch a stuck socket.
      headersTimeout: 300_000,
      bodyTimeout: 300_000,
    });
  }

  /**
   * GET `url`, following redirects; rejects with `FetchError`, or the signal's reason, or — once
   * `timeoutMs` (the whole attempt: connect, redirects, body) has run out — a `TimeoutError`.
   */
  async get(
    url: URL,
    signal: AbortSignal,
    timeoutMs = Number.POSITIVE_INFINITY,
  ): Promise<HttpResponse> {
    if (!(timeoutMs < Number.POSITIVE_INFINITY)) return this.#get(url, signal);
    signal.throwIfAborted();
    if (timeoutMs <= 0) throw new TimeoutError(timeoutMs);
    const attempt = new AttemptSignal(signal, timeoutMs);
    try {
      return await this.#get(url, attempt);
    } finally {
      attempt.dispose();
    }
  }

  async #get(url: URL, signal: AttemptAbort): Promise<HttpResponse> {
    let current = url;
    for (let redirects = 0; ; redirects++) {
      signal.throwIfAborted();
      let exchange: Exchange;
      try {
        exchange = await this.#exchange(current, signal);
      } catch (error) {
        if (error instanceof FetchError) throw error;
        if (signal.aborted) throw signal.reason;
        throw networkError(error);
      }
      const { status } = exchange;
      if (status >= 300 && status < 400 && exchange.location !== undefined) {
        if (redirects >= this.#options.maxRedirects) {
          throw new FetchError('redirects', `more than ${this.#options.maxRedirects} redirects`, {
            status,
          });
        }
        const location = exchange.location;
        let next: URL;
        try {
          next = new URL(location, current);
        } catch {
          throw new FetchError('redirects', `bad redirect location ${JSON.stringify(location)}`, {
            status,
          });
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new FetchError('redirects', `redirect to ${next.protocol.slice(0, -1)} refused`, {
            status,
          });
        }
        current = next;
        continue;
      }
      if (status >= 400) {
        const retryable = status === 408 || status === 425 || status === 429 || status >= 500;
        throw new FetchError('http_error', `HTTP ${status}`, {
          status,
          retryable,
          hostFailure: status >= 500,
          retryAfterMs:
            status === 429 || status === 503 ? parseRetryAfter(exchange.retryAfter) : undefined,
        });
      }
      return {
        status,
        finalUrl: current.href,
        redirects,
        contentType: exchange.contentType,
        body: exchange.body,
      };
    }
  }

  /** One request and its response, through undici's `dispatch` (see `ExchangeHandler`). */
  #exchange(url: URL, signal: AttemptAbort): Promise<Exchange> {
    return new Promise<Exchange>((resolve, reject) => {
      const handler = new ExchangeHandler(this.#options.maxBodyBytes, signal, resolve, reject);
      try {
        this.#agent.dispatch(
          {
            origin: url.origin,
            path: url.pathname + url.search,
            method: 'GET',
            headers: this.#headers,
          },
          handler,
        );
      } catch (error) {
        handler.onError(error as Error);
      }
    });
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

/** What `#get` reads of its signal: an `AbortSignal`'s, or an `AttemptSignal`'s. */
type AttemptAbort = Pick<
  AbortSignal,
  'aborted' | 'reason' | 'throwIfAborted' | 'addEventListener' | 'removeEventListener'
>;

/**
 * One attempt's signal, read by `ExchangeHandler` through `addEventListener`: aborted by
 * its own timer with a `TimeoutError`, or with the reason of `outer` (the pipeline's signal).
 * The per-attempt timeout used to be `timeout()` in the policy chain, whose signal is an
 * `AbortController` made per attempt (~2.5 µs on Node 20, plus an EventTarget listener);
 * this is a few fields, a timer and a callback in `onAbort`'s set for `outer`.
 */
class AttemptSignal {
  aborted = false;
  reason: unknown = undefined;
  readonly #unsubscribe: () => void;
  readonly #timer: ReturnType<typeof setTimeout>;
  #listeners: (() => void)[] = [];

  constructor(outer: AbortSignal, ms: number) {
    this.#unsubscribe = onAbort(outer, (reason) => this.#abort(reason));
    this.#timer = setTimeout(() => this.#abort(new TimeoutError(ms)), ms);
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  addEventListener(_type: string, listener: unknown): void {
    if (typeof listener === 'function') this.#listeners.push(listener as () => void);
  }

  removeEventListener(_type: string, listener: unknown): void {
    const i = this.#listeners.indexOf(listener as () => void);
    if (i !== -1) this.#listeners.splice(i, 1);
  }

  #abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.dispose();
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener();
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#unsubscribe();
  }
}

/** What one request/response exchange gave `#get`: the status, the headers it reads, the body. */
interface Exchange {
  status: number;
  /** The first Location header, if any. */
  location: string | undefined;
  contentType: string;
  retryAfter: string | undefined;
  /** The body of a 2xx response (other statuses' bodies are read and dropped). */
  body: Buffer;
}

/** Bodies of redirects and errors are read and dropped up to this size, then the socket is. */
const DISCARD_LIMIT = 128 * 1024;

const EMPTY = Buffer.alloc(0);

/**
 * A request's handler for undici's `dispatch()`: undici's lowest-level API, which `request()`
 * itself is built on. `request()` adds, per request, an AsyncResource, a Readable stream for
 * the body, a headers object with every header parsed, and a callback hop; this reads the four
 * headers `fetch` needs from the raw list and collects the body chunks itself (bench/cli/:
 * ~13 µs less main-thread CPU per URL, median of 4 alternated runs). These are the handler
 * methods undici 7's core calls directly (its newer controller-style methods are adapted onto
 * them per request); test/cli/http.test.ts pins the behaviour for an undici upgrade.
 *
 * It settles once: with the exchange at the end of the body, or with the error (a `FetchError`
 * for a body over the cap; the signal's reason when aborted; undici's error otherwise).
 */
class ExchangeHandler implements Dispatcher.DispatchHandler {
  readonly #cap: number;
  readonly #signal: AttemptAbort;
  readonly #resolve: (exchange: Exchange) => void;
  readonly #reject: (error: unknown) => void;
  #abort: ((error?: Error) => void) | undefined;
  #settled = false;
  #exchange: Exchange | undefined;
  /** 2xx: the body is kept; otherwise it is only counted. */
  #keep = false;
  #size = 0;
  #first: Buffer | undefined;
  #chunks: Buffer[] | undefined;

  constructor(
    cap: number,
    signal: AttemptAbort,
    resolve: (exchange: Exchange) => void,
    reject: (error: unknown) => void,
  ) {
    this.#cap = cap;
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
    signal.addEventListener('abort', this.#onAbort);
  }

  /** The signal aborted: settle now, and stop the request as soon as undici lets us. */
  readonly #onAbort = (): void => {
    const reason = this.#signal.reason;
    this.#fail(reason);
    this.#abort?.(reason as Error);
  };

  onConnect(abort: (error?: Error) => void): void {
    if (this.#settled) {
      abort(this.#signal.aborted ? (this.#signal.reason as Error) : undefined);
      return;
    }
    this.#abort = abort;
  }

  onHeaders(status: number, rawHeaders: Buffer[], _resume: () => void): boolean {
    if (status < 200) return true; // 1xx: the real response follows
    let location: string | undefined;
    let contentType = '';
    let contentLength: string | undefined;
    let retryAfter: string | undefined;
    // Only four names matter; their lengths pick the few headers worth decoding.
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const key = rawHeaders[i]!;
      const n = key.length;
      if (n !== 8 && n !== 11 && n !== 12 && n !== 14) continue;
      const name = key.toString('latin1').toLowerCase();
      const value = rawHeaders[i + 1]!;
      if (name === 'location') location ??= value.toString('latin1');
      else if (name === 'content-type') contentType ||= value.toString('latin1');
      else if (name === 'content-length') contentLength ??= value.toString('latin1');
      else if (name === 'retry-after') retryAfter ??= value.toString('latin1');
    }
    this.#exchange = { status, location, contentType, retryAfter, body: EMPTY };
    this.#keep = status < 300 || (status < 400 && location === undefined);
    if (this.#keep) {
      const declared = Number(contentLength);
      if (contentLength !== undefined && Number.isFinite(declared) && declared > this.#cap) {
        this.#tooLarge(`body of ${declared} bytes is over the ${this.#cap}-byte cap`, status);
        return false;
      }
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#settled) return false;
    this.#size += chunk.length;
    if (!this.#keep) {
      // A redirect's or an error's body: not worth more than DISCARD_LIMIT of reading.
      if (this.#size > DISCARD_LIMIT) this.#finishEarly();
      return true;
    }
    if (this.#size > this.#cap) {
      this.#tooLarge(`body over the ${this.#cap}-byte cap`, this.#exchange!.status);
      return false;
    }
    if (this.#first === undefined) this.#first = chunk;
    else if (this.#chunks === undefined) this.#chunks = [this.#first, chunk];
    else this.#chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.#settled) return;
    const exchange = this.#exchange;
    if (exchange === undefined) {
      this.#fail(new Error('the response ended before its headers'));
      return;
    }
    // A body that came in one chunk — nearly every small page — is that chunk, not a copy.
    if (this.#keep) {
      exchange.body =
        this.#chunks !== undefined
          ? Buffer.concat(this.#chunks, this.#size)
          : (this.#first ?? EMPTY);
    }
    this.#done();
    this.#resolve(exchange);
  }

  onError(error: Error): void {
    this.#fail(this.#signal.aborted ? this.#signal.reason : error);
  }

  #tooLarge(message: string, status: number): void {
    const error = new FetchError('too_large', message, { status });
    this.#fail(error);
    this.#abort?.(error);
  }

  /** Settles with what the headers said and drops the rest of the body with its socket. */
  #finishEarly(): void {
    this.#done();
    this.#resolve(this.#exchange!);
    this.#abort?.();
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#done();
    this.#reject(error);
  }

  #done(): void {
    this.#settled = true;
    this.#first = undefined;
    this.#chunks = undefined;
    this.#signal.removeEventListener('abort', this.#onAbort);
  }
}

function networkError(error: unknown): FetchError {
  const code = (error as { code?: string }).code;
  const message = (error as Error).message ?? String(error);
  return new FetchError('network', code ? `${code}: ${message}` : message, {
    retryable: true,
    hostFailure: true,
    cause: error,
  });
}
