import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { Gauge } from 'prom-client';
import { Metrics, serveMetrics } from '../../src/observe/index.ts';
import { parsePrometheus, sampleValue } from './parse.ts';

/** One HTTP request over a real socket; resolves with status, headers and body. */
function get(url: string, method = 'GET', agent?: import('node:http').Agent) {
  return new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = request(url, { method, agent, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('serveMetrics', () => {
  it('serves the Prometheus text on /metrics over HTTP, bound to 127.0.0.1 by default', async () => {
    const metrics = new Metrics();
    metrics.recordTask('fetch', 'ok', 0.2);
    metrics.recordTask('fetch', 'error', 0.3);
    metrics.setInflight('fetch', 4);
    await using server = await serveMetrics({ metrics, port: 0 });
    assert.equal(server.host, '127.0.0.1');
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/metrics`);

    const res = await get(server.url);
    assert.equal(res.status, 200);
    assert.match(res.type, /^text\/plain; version=0\.0\.4/);
    const { samples, types } = parsePrometheus(res.body);
    assert.equal(types.get('switchyard_inflight'), 'gauge');
    assert.equal(
      sampleValue(samples, 'switchyard_tasks_total', { component: 'fetch', outcome: 'ok' }),
      1,
    );
    assert.equal(
      sampleValue(samples, 'switchyard_tasks_total', { component: 'fetch', outcome: 'error' }),
      1,
    );
    assert.equal(sampleValue(samples, 'switchyard_inflight', { component: 'fetch' }), 4);

    // The next scrape sees what happened since.
    metrics.recordTask('fetch', 'ok', 0.1);
    const again = parsePrometheus((await get(server.url)).body).samples;
    assert.equal(
      sampleValue(again, 'switchyard_tasks_total', { component: 'fetch', outcome: 'ok' }),
      2,
    );
  });

  it('answers 404 elsewhere, 405 to other methods, an empty 200 to HEAD', async () => {
    await using server = await serveMetrics({ metrics: new Metrics(), port: 0, path: '/m' });
    const base = `http://127.0.0.1:${server.port}`;
    assert.equal((await get(`${base}/metrics`)).status, 404);
    assert.equal((await get(`${base}/m`, 'POST')).status, 405);
    const head = await get(`${base}/m?x=1`, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('answers 500 with the message when a collection throws, and keeps serving', async () => {
    const metrics = new Metrics();
    let broken = true;
    new Gauge({
      name: 'app_flaky',
      help: 'throws while broken',
      registers: [metrics.registry],
      collect() {
        if (broken) throw new Error('sensor unplugged');
        this.set(1);
      },
    });
    await using server = await serveMetrics({ metrics, port: 0 });
    const res = await get(server.url);
    assert.equal(res.status, 500);
    assert.match(res.body, /sensor unplugged/);
    broken = false;
    assert.equal(
      sampleValue(parsePrometheus((await get(server.url)).body).samples, 'app_flaky'),
      1,
    );
  });

  it('serves 1,000 series in one scrape', async () => {
    const metrics = new Metrics();
    for (let i = 0; i < 250; i++) metrics.recordTask(`stage-${i}`, 'ok', i / 1000);
    await using server = await serveMetrics({ metrics, port: 0 });
    const { samples } = parsePrometheus((await get(server.url)).body);
    const tasks = samples.filter((s) => s.name === 'switchyard_tasks_total');
    assert.equal(tasks.length, 1000); // 250 components × 4 outcomes
    assert.equal(
      sampleValue(samples, 'switchyard_tasks_total', { component: 'stage-249', outcome: 'ok' }),
      1,
    );
  });

  it('close() ends keep-alive connections and frees the port; it is idempotent', async () => {
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true });
    const server = await serveMetrics({ metrics: new Metrics(), port: 0 });
    try {
      assert.equal((await get(server.url, 'GET', agent)).status, 200);
      await server.close(); // would hang on the idle keep-alive socket without closeAllConnections
      await server.close();
      assert.equal(server.server.listening, false);
      await assert.rejects(get(server.url), { code: 'ECONNREFUSED' });
    } finally {
      agent.destroy();
    }
  });

  it('an abort signal closes the server', async () => {
    const controller = new AbortController();
    const server = await serveMetrics({
      metrics: new Metrics(),
      port: 0,
      signal: controller.signal,
    });
    const closed = new Promise((resolve) => server.server.once('close', resolve));
    controller.abort();
    await closed;
    assert.equal(server.server.listening, false);
    await assert.rejects(
      serveMetrics({ metrics: new Metrics(), port: 0, signal: controller.signal }),
      (e) => e === controller.signal.reason,
    );
  });

  it('validation errors name the option', async () => {
    await assert.rejects(serveMetrics({} as never), /metrics must be a Metrics instance/);
    const metrics = new Metrics();
    await assert.rejects(
      serveMetrics({ metrics, port: 70_000 }),
      /port must be between 0 and 65535/,
    );
    await assert.rejects(serveMetrics({ metrics, port: 1.5 }), /port must be an integer/);
    await assert.rejects(
      serveMetrics({ metrics, port: 0, host: '' }),
      /host must be a non-empty string/,
    );
    await assert.rejects(
      serveMetrics({ metrics, port: 0, path: 'metrics' }),
      /path must start with/,
    );
  });

  it('rejects with the listen error when the port is taken', async () => {
    await using first = await serveMetrics({ metrics: new Metrics(), port: 0 });
    await assert.rejects(serveMetrics({ metrics: new Metrics(), port: first.port }), {
      code: 'EADDRINUSE',
    });
  });
});
