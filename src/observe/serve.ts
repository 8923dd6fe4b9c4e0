import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signalError } from '../cancel/options.ts';
import { Metrics } from './metrics.ts';

export interface ServeMetricsOptions {
  /** The registry to serve. Required: there is no global one. */
  metrics: Metrics;
  /** TCP port (default 9464, the OpenTelemetry Prometheus exporter's); 0 picks a free one. */
  port?: number | undefined;
  /** Interface to bind (default '127.0.0.1'; pass '0.0.0.0' or '::' to expose it). */
  host?: string | undefined;
  /** The path that serves the text format (default '/metrics'). */
  path?: string | undefined;
  /**
   * Let the process exit while the server is open (default false: like any server it keeps the
   * process alive until `close()`).
   */
  unref?: boolean | undefined;
  /** Aborting it stops the server, like `close()`; an aborted signal rejects the call. */
  signal?: AbortSignal | undefined;
}

/** A running metrics endpoint. `await using server = await serveMetrics(…)` closes it. */
export interface MetricsServer extends AsyncDisposable {
  /** The bound port (the real one when 0 was asked). */
  readonly port: number;
  readonly host: string;
  /** `http://host:port/metrics`. */
  readonly url: string;
  /** The underlying `http.Server`. */
  readonly server: Server;
  /** Stops listening and ends open (keep-alive) connections. Idempotent. */
  close(): Promise<void>;
}

function portError(port: unknown): TypeError | RangeError | undefined {
  if (typeof port !== 'number' || !Number.isInteger(port)) {
    return new TypeError(`serveMetrics: port must be an integer, got ${String(port)}`);
  }
  if (port < 0 || port > 65535) {
    return new RangeError(`serveMetrics: port must be between 0 and 65535, got ${port}`);
  }
  return undefined;
}

/**
 * Serves `metrics` in the Prometheus text format on `GET /metrics` (and `HEAD`); other paths get
 * 404, other methods 405. A collection that throws gives 500 with the error's message. Binds
 * 127.0.0.1 unless told otherwise.
 */
export async function serveMetrics(options: ServeMetricsOptions): Promise<MetricsServer> {
  const {
    metrics,
    port = 9464,
    host = '127.0.0.1',
    path = '/metrics',
    unref = false,
    signal,
  } = options ?? ({} as ServeMetricsOptions);
  if (!(metrics instanceof Metrics)) {
    throw new TypeError('serveMetrics: metrics must be a Metrics instance (new Metrics())');
  }
  const error =
    portError(port) ??
    (typeof host === 'string' && host.length > 0
      ? undefined
      : new TypeError(`serveMetrics: host must be a non-empty string, got ${String(host)}`)) ??
    (typeof path === 'string' && path.startsWith('/')
      ? undefined
      : new TypeError(`serveMetrics: path must start with '/', got ${String(path)}`)) ??
    signalError('serveMetrics', signal);
  if (error) throw error;
  signal?.throwIfAborted();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const pathname = (req.url ?? '/').split('?', 1)[0];
    if (pathname !== path) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('method not allowed\n');
      return;
    }
    metrics.prometheus().then(
      (text) => {
        res.writeHead(200, {
          'content-type': metrics.contentType,
          'content-length': Buffer.byteLength(text),
        });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (failure: unknown) => {
        const message = failure instanceof Error ? failure.message : String(failure);
        res
          .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
          .end(`metrics collection failed: ${message}\n`);
      },
    );
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  if (unref) server.unref();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      signal?.removeEventListener('abort', onSignal);
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };
  const onSignal = () => {
    void close();
  };
  if (signal !== undefined) {
    if (signal.aborted) await close();
    else signal.addEventListener('abort', onSignal, { once: true });
  }

  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    port: address.port,
    host: address.address,
    url: `http://${shownHost}:${address.port}${path}`,
    server,
    close,
    [Symbol.asyncDispose]: close,
  };
}
