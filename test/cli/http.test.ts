import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TimeoutError } from '../../src/cancel/errors.ts';
import { FetchError, HttpClient } from '../../src/cli/http.ts';

describe('HttpClient.get with a per-attempt timeout', { timeout: 20_000 }, () => {
  let server: Server;
  let base: string;
  const client = new HttpClient({
    connections: 4,
    maxBodyBytes: 1024 * 1024,
    maxRedirects: 2,
    userAgent: 'test',
  });

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok') {
        res.setHeader('content-type', 'text/html');
        res.end('<title>ok</title>');
      } else if (req.url === '/redirect') {
        res.statusCode = 302;
        res.setHeader('location', '/ok');
        res.end();
      } else if (req.url === '/chunks') {
        // Many writes, so many chunks: the body must come back whole and in order.
        res.setHeader('content-type', 'text/plain');
        let i = 0;
        const next = (): void => {
          if (i === 200) {
            res.end('end');
            return;
          }
          res.write(`${i++},`);
          setImmediate(next);
        };
        next();
      } else if (req.url === '/declared-big') {
        res.setHeader('content-length', String(2 * 1024 * 1024));
        res.write('x'.repeat(1024));
      } else if (req.url === '/streamed-big') {
        res.setHeader('content-type', 'text/plain');
        const chunk = 'y'.repeat(64 * 1024);
        for (let k = 0; k < 20; k++) res.write(chunk); // 1.25 MB, no content-length
        res.end();
      } else if (req.url === '/error-big') {
        res.statusCode = 500;
        res.end('e'.repeat(1024 * 1024)); // read only up to the discard limit
      } else if (req.url === '/busy') {
        res.statusCode = 429;
        res.setHeader('retry-after', '7');
        res.end('slow down');
      } else if (req.url === '/loop') {
        res.statusCode = 301;
        res.setHeader('location', '/loop');
        res.end('again');
      } else if (req.url === '/ftp') {
        res.statusCode = 302;
        res.setHeader('Location', 'ftp://example.org/file');
        res.end();
      } else if (req.url === '/early') {
        // An informational 103 first: the real response follows it.
        res.writeEarlyHints({ link: '</s.css>; rel=preload' });
        res.setHeader('content-type', 'text/html');
        res.end('<title>after hints</title>');
      } else if (req.url === '/reset') {
        req.socket.destroy();
      } else if (req.url === '/stall-body') {
        res.setHeader('content-type', 'text/html');
        res.write('<title>half'); // never ends
      }
      // '/stall': no response at all
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('returns the page when it comes in time, redirects included', async () => {
    const response = await client.get(
      new URL(`${base}/redirect`),
      new AbortController().signal,
      5_000,
    );
    assert.equal(response.status, 200);
    assert.equal(response.redirects, 1);
    assert.equal(response.body.toString(), '<title>ok</title>');
  });

  const fail = (path: string) =>
    client.get(new URL(`${base}${path}`), new AbortController().signal, 5_000).then(
      () => assert.fail(`${path} should have failed`),
      (e: unknown) => e as FetchError,
    );

  it('reads a body that comes in many chunks whole, with its content type', async () => {
    const response = await client.get(new URL(`${base}/chunks`), new AbortController().signal);
    const expected = `${Array.from({ length: 200 }, (_, i) => `${i},`).join('')}end`;
    assert.equal(response.body.toString(), expected);
    assert.equal(response.contentType, 'text/plain');
  });

  it('skips an informational 1xx response and reads the one after it', async () => {
    const response = await client.get(new URL(`${base}/early`), new AbortController().signal);
    assert.equal(response.status, 200);
    assert.equal(response.body.toString(), '<title>after hints</title>');
  });

  it('refuses a body over the cap, whether declared by content-length or streamed', async () => {
    const declared = await fail('/declared-big');
    assert.ok(declared instanceof FetchError);
    assert.equal(declared.outcome, 'too_large');
    assert.match(declared.message, /body of 2097152 bytes is over the 1048576-byte cap/);
    const streamed = await fail('/streamed-big');
    assert.equal(streamed.outcome, 'too_large');
    assert.match(streamed.message, /body over the 1048576-byte cap/);
  });

  it('turns 4xx/5xx into http_error: retryable, host failure, Retry-After', async () => {
    const busy = await fail('/busy');
    assert.equal(busy.outcome, 'http_error');
    assert.equal(busy.status, 429);
    assert.equal(busy.retryable, true);
    assert.equal(busy.hostFailure, false);
    assert.equal(busy.retryAfterMs, 7000);
    // A megabyte error page: read up to the discard limit, dropped with its socket.
    const big = await fail('/error-big');
    assert.equal(big.status, 500);
    assert.equal(big.hostFailure, true);
    // The client still works afterwards.
    const ok = await client.get(new URL(`${base}/ok`), new AbortController().signal);
    assert.equal(ok.body.toString(), '<title>ok</title>');
  });

  it('caps redirects, refuses non-http redirects, and reports a reset as a network error', async () => {
    const loop = await fail('/loop');
    assert.equal(loop.outcome, 'redirects');
    assert.match(loop.message, /more than 2 redirects/);
    const ftp = await fail('/ftp');
    assert.equal(ftp.outcome, 'redirects');
    assert.match(ftp.message, /redirect to ftp refused/);
    const reset = await fail('/reset');
    assert.equal(reset.outcome, 'network');
    assert.equal(reset.retryable, true);
  });

  it('rejects with a TimeoutError when no response comes', async () => {
    const error = await client.get(new URL(`${base}/stall`), new AbortController().signal, 50).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof TimeoutError, `got ${String(error)}`);
    assert.equal(error.ms, 50);
  });

  it('rejects with a TimeoutError when the body stalls', async () => {
    const error = await client
      .get(new URL(`${base}/stall-body`), new AbortController().signal, 50)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(error instanceof TimeoutError, `got ${String(error)}`);
  });

  it("rejects with the outer signal's reason when it aborts first", async () => {
    const outer = new AbortController();
    const reason = new Error('stop');
    const pending = client.get(new URL(`${base}/stall`), outer.signal, 60_000);
    outer.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
  });

  it('rejects at once for an outer signal already aborted, or a zero budget', async () => {
    const outer = new AbortController();
    outer.abort(new Error('before'));
    await assert.rejects(client.get(new URL(`${base}/ok`), outer.signal, 1000), /before/);
    await assert.rejects(
      client.get(new URL(`${base}/ok`), new AbortController().signal, 0),
      TimeoutError,
    );
  });
});
