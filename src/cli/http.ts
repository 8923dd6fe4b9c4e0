/**
 * The HTTP side of `fetch`: one undici `Agent` (keep-alive connection pools per origin), GET
 * with a body size cap, redirects followed by hand (each hop checked: http/https only, at most
 * `maxRedirects`), and errors that say what happened and whether it is worth a retry.
 */
import { Agent, request } from 'undici';

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

  constructor(options: HttpOptions) {
    this.#options = options;
    this.#agent = new Agent({
      connections: options.connections,
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 60_000,
      // Our own timeout policy bounds each attempt; these only catch a stuck socket.
      headersTimeout: 300_000,
      bodyTimeout: 300_000,
    });
  }

  /** GET `url`, following redirects; rejects with `FetchError` (or the signal's reason). */
  async get(url: URL, signal: AbortSignal): Promise<HttpResponse> {
    let current = url;
    for (let redirects = 0; ; redirects++) {
      signal.throwIfAborted();
      let response: Awaited<ReturnType<typeof request>>;
      try {
        response = await request(current, {
          method: 'GET',
          dispatcher: this.#agent,
          signal,
          headers: { 'user-agent': this.#options.userAgent, accept: 'text/html,*/*;q=0.8' },
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
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of response.body) {
          size += (chunk as Buffer).length;
          if (size > this.#options.maxBodyBytes) {
            response.body.destroy();
            throw new FetchError(
              'too_large',
              `body over the ${this.#options.maxBodyBytes}-byte cap`,
              { status },
            );
          }
          chunks.push(chunk as Buffer);
        }
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
        body: Buffer.concat(chunks, size),
      };
    }
  }

  close(): Promise<void> {
    return this.#agent.close();
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
