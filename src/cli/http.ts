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
      let response: Dispatcher.ResponseData;
      try {
        // The agent's own request() with origin and path: undici's top-level request(url)
        // re-derives both from the URL and spreads the options into a new object on every call
        // (bench/cli/: ~20 µs a request more, measured).
        response = await this.#agent.request({
          origin: current.origin,
          path: current.pathname + current.search,
          method: 'GET',
          headers: this.#headers,
          signal: signal as AbortSignal,
        });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw networkError(error);
      }
      const { statusCode: status, headers } = response;
      if (status >= 300 && status < 400 && headers.location !== undefined) {
        await response.body.dump().catch(() => {});
        if (redirects >= this.#options.maxRedirects) {
          throw new FetchError('redirects', `more than ${this.#options.maxRedirects} redirects`, {
            status,
          });
        }
        const location = String(
          Array.isArray(headers.location) ? headers.location[0] : headers.location,
        );
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
        await response.body.dump().catch(() => {});
        const retryable = status === 408 || status === 425 || status === 429 || status >= 500;
        throw new FetchError('http_error', `HTTP ${status}`, {
          status,
          retryable,
          hostFailure: status >= 500,
          retryAfterMs:
            status === 429 || status === 503 ? parseRetryAfter(headers['retry-after']) : undefined,
        });
      }
      const declared = Number(headers['content-length']);
      if (Number.isFinite(declared) && declared > this.#options.maxBodyBytes) {
        response.body.destroy();
        throw new FetchError(
          'too_large',
          `body of ${declared} bytes is over the ${this.#options.maxBodyBytes}-byte cap`,
          { status },
        );
      }
      let body: Buffer;
      try {
        body = await readBody(response.body, this.#options.maxBodyBytes, status);
      } catch (error) {
        if (error instanceof FetchError) throw error;
        if (signal.aborted) throw signal.reason;
        throw networkError(error);
      }
      const contentType = String(headers['content-type'] ?? '');
      return {
        status,
        finalUrl: current.href,
        redirects,
        contentType,
        body,
      };
    }
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

function noop(): void {}

/** What `#get` reads of its signal: an `AbortSignal`'s, or an `AttemptSignal`'s. */
type AttemptAbort = Pick<
  AbortSignal,
  'aborted' | 'reason' | 'throwIfAborted' | 'addEventListener' | 'removeEventListener'
>;

/**
 * One attempt's signal, for undici (which takes any object with `addEventListener`): aborted by
 * its own timer with a `TimeoutError`, or with the reason of `outer` (the pipeline's signal).
 * The per-attempt timeout used to be `timeout()` in the policy chain, whose signal is an
 * `AbortController` made per attempt (~2.5 µs on Node 20, plus an EventTarget for undici's
 * listener); this is a few fields, a timer and a callback in `onAbort`'s set for `outer`.
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

/**
 * Reads a body into one Buffer, rejecting with `too_large` (and destroying the stream) once it
 * passes `cap` bytes. 'data' events, not `for await`: the async iterator costs a promise and a
 * few listeners per chunk (measured ~10 µs a 2 KB page in bench/cli/). A body that came in one
 * chunk — nearly every small page — is that chunk, not a copy.
 */
function readBody(
  body: Dispatcher.ResponseData['body'],
  cap: number,
  status: number,
): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > cap) {
        body.off('data', onData);
        // undici's body emits RequestAbortedError when destroyed before its end: not ours to see.
        body.on('error', noop);
        body.destroy();
        reject(new FetchError('too_large', `body over the ${cap}-byte cap`, { status }));
        return;
      }
      if (first === undefined) first = chunk;
      else if (chunks === undefined) chunks = [first, chunk];
      else chunks.push(chunk);
    };
    body.on('data', onData);
    body.on('error', reject);
    body.on('end', () => {
      resolve(chunks !== undefined ? Buffer.concat(chunks, size) : (first ?? Buffer.alloc(0)));
    });
  });
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
