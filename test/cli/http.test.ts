import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TimeoutError } from '../../src/cancel/errors.ts';
import { HttpClient } from '../../src/cli/http.ts';

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
