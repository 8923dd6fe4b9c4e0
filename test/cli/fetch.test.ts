import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { main } from '../../src/cli/fetch.ts';
import { parse } from '../../src/cli/parse-worker.ts';
import { captureIo, serve, spawnCli, tempDir } from './support.ts';

const dir = tempDir();
const page = (n: number) =>
  `<html><head><title> Page ${n} </title><script>ignored()</script></head><body><p>hello   world</p><a href="/p/${n + 1}#x">next</a><a href="mailto:a@b">m</a></body></html>`;
const attempts = new Map<string, number>();

const { base } = await serve((req, res) => {
  const url = req.url ?? '/';
  const n = (attempts.get(url) ?? 0) + 1;
  attempts.set(url, n);
  if (url.startsWith('/p/')) {
    res.writeHead(200, { 'content-type': 'text/html' }).end(page(Number(url.slice(3))));
  } else if (url === '/busy') {
    if (n === 1) res.writeHead(429, { 'retry-after': '0' }).end();
    else res.writeHead(200, { 'content-type': 'text/html' }).end(page(0));
  } else if (url === '/loop') {
    res.writeHead(302, { location: '/loop' }).end();
  } else if (url === '/to-ftp') {
    res.writeHead(302, { location: 'ftp://127.0.0.1/x' }).end();
  } else if (url === '/big') {
    res.writeHead(200, { 'content-type': 'text/html' }).end('x'.repeat(64 * 1024));
  } else if (url === '/missing') {
    res.writeHead(404).end();
  } else if (url.startsWith('/slow/')) {
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(page(1)), 40);
  } else {
    res.writeHead(500).end();
  }
});

function rows(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT * FROM results ORDER BY line').all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

describe('switchyard fetch', () => {
  it('records one row per line, reports garbage lines by number, and exits 1 when some failed', async () => {
    const input = join(dir, 'mixed.txt');
    writeFileSync(
      input,
      [
        '# comment',
        `${base}/p/1`,
        '',
        'not a url',
        `${base}/busy`,
        `${base}/loop`,
        `${base}/to-ftp`,
        `${base}/big`,
        `${base}/missing`,
        'file:///etc/passwd',
        `${base}/p/2`,
      ].join('\n'),
    );
    const out = join(dir, 'mixed.db');
    const { io, out: text } = captureIo();
    const html = join(dir, 'mixed.html');
    const code = await main(
      [input, '--out', out, '--max-body', '16k', '--retries', '2', '--report', html],
      io,
    );
    assert.match(readFileSync(html, 'utf8'), /<figure id="hosts"><svg/);
    assert.equal(code, 1, text.stderr);
    assert.match(text.stderr, /line 4: not a URL: "not a url"/);
    assert.match(text.stderr, /line 10: only http and https are fetched, not file/);
    assert.doesNotMatch(text.stderr, /\n\s+at /, 'no stack trace');
    const byLine = new Map(rows(out).map((r) => [r.line, r]));
    assert.deepEqual([...byLine.keys()], [2, 4, 5, 6, 7, 8, 9, 10, 11]);
    const ok = byLine.get(2)!;
    assert.equal(ok.outcome, 'ok');
    assert.equal(ok.title, 'Page 1');
    assert.deepEqual(JSON.parse(ok.links as string), [`${base}/p/2`]);
    assert.equal(ok.sha256, parse(Buffer.from(page(1)), `${base}/p/1`).sha256);
    assert.equal(byLine.get(4)!.outcome, 'invalid');
    assert.equal(byLine.get(5)!.outcome, 'ok', 'a 429 with Retry-After is retried');
    assert.equal(byLine.get(5)!.attempts, 2);
    assert.equal(byLine.get(6)!.outcome, 'redirects');
    assert.equal(byLine.get(7)!.outcome, 'redirects');
    assert.equal(byLine.get(8)!.outcome, 'too_large');
    assert.equal(byLine.get(9)!.outcome, 'http_error');
    assert.equal(byLine.get(9)!.status, 404);
    assert.equal(byLine.get(9)!.attempts, 1, 'a 404 is not retried');
    assert.match(text.stdout, /outcome\s+count/);
    assert.match(text.stdout, /breaker openings/);
  });

  it('writes JSON Lines with --out *.jsonl and exits 0 when every line is ok', async () => {
    const input = join(dir, 'ok.txt');
    writeFileSync(input, `${base}/p/10\n${base}/p/11\n`);
    const out = join(dir, 'ok.jsonl');
    const { io, out: text } = captureIo();
    assert.equal(await main([input, '--out', out, '--quiet'], io), 0, text.stderr);
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.title).sort(), ['Page 10', 'Page 11']);
  });

  it('reads URLs from stdin with -', async () => {
    const { io, out: text } = captureIo();
    const stdin = Readable.from([`${base}/p/20\n# skipped\n`, `${base}/p/21\n`]);
    const out = join(dir, 'stdin.db');
    assert.equal(await main(['-', '--out', out, '--quiet'], { ...io, stdin }), 0, text.stderr);
    assert.deepEqual(
      rows(out).map((r) => [r.line, r.title]),
      [
        [1, 'Page 20'],
        [3, 'Page 21'],
      ],
    );
  });

  it('parses titles, links and visible text length', () => {
    const facts = parse(Buffer.from(page(5)), 'http://h/p/5');
    assert.equal(facts.title, 'Page 5');
    assert.deepEqual(facts.links, ['http://h/p/6']);
    assert.equal(facts.textLength, 'Page 5 hello world'.length + 5);
  });

  for (const [name, args, pattern] of [
    ['a missing file', ['nope.txt'], /^switchyard fetch: no such file: nope.txt\n$/],
    ['an unknown flag', ['x', '--frobnicate'], /^switchyard fetch: Unknown option '--frobnicate'/],
    [
      'a negative concurrency',
      ['-', '--concurrency', '-3'],
      /--concurrency must be an integer between 1 and 10000, got "-3"/,
    ],
    ['an unwritable output path', ['-', '--out', '/nonexistent/dir/r.db'], /cannot write --out/],
    ['no input', [], /expected a URL file/],
  ] as const) {
    it(`rejects ${name} with one line and exit 2`, async () => {
      const { io, out: text } = captureIo();
      assert.equal(await main([...args], io), 2);
      assert.match(text.stderr, pattern);
      assert.equal(text.stderr.trim().split('\n').length, 1);
    });
  }

  it('refuses to overwrite an existing results file without --resume or --overwrite', async () => {
    const input = join(dir, 'again.txt');
    writeFileSync(input, `${base}/p/1\n`);
    const out = join(dir, 'again.db');
    assert.equal(await main([input, '--out', out, '--quiet'], captureIo().io), 0);
    const { io, out: text } = captureIo();
    assert.equal(await main([input, '--out', out], io), 2);
    assert.match(text.stderr, /already exists; pass --resume/);
    assert.equal(await main([input, '--out', out, '--resume', '--quiet'], captureIo().io), 0);
  });

  it('serves Prometheus metrics during the run with --metrics-port', async () => {
    const input = join(dir, 'metrics.txt');
    writeFileSync(input, Array.from({ length: 60 }, (_, i) => `${base}/slow/${i}`).join('\n'));
    const { io, out: text } = captureIo();
    const run = main(
      [
        input,
        '--out',
        join(dir, 'metrics.db'),
        '--metrics-port',
        '0',
        '--concurrency',
        '2',
        '--per-host',
        '2',
      ],
      io,
    );
    let scraped = '';
    for (let i = 0; i < 100 && scraped === ''; i++) {
      const url = /metrics at (\S+)/.exec(text.stderr)?.[1];
      if (url !== undefined) {
        await new Promise((r) => setTimeout(r, 200));
        scraped = await (await fetch(url)).text();
      } else await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await run, 0, text.stderr);
    assert.match(scraped, /switchyard_tasks_total\{component="fetch",outcome="ok"\} \d+/);
    assert.match(scraped, /switchyard_inflight\{component="fetch"\}/);
  });

  it('on SIGINT exits 130 leaving the rest pending, and --resume finishes with each line exactly once', async () => {
    const input = join(dir, 'sigint.txt');
    const total = 300;
    writeFileSync(input, Array.from({ length: total }, (_, i) => `${base}/slow/s${i}`).join('\n'));
    const out = join(dir, 'sigint.db');
    const args = [
      'fetch',
      input,
      '--out',
      out,
      '--concurrency',
      '4',
      '--per-host',
      '4',
      '--progress-interval',
      '100',
    ];
    const first = spawnCli(args);
    while (!/\] [1-9]\d+\//.test(first.stderr)) {
      if (first.child.exitCode !== null) assert.fail(first.stderr);
      await new Promise((r) => setTimeout(r, 25));
    }
    first.child.kill('SIGINT');
    assert.equal(await first.exited, 130, first.stderr);
    assert.match(first.stderr, /interrupted; .* run again with --resume/);
    const partial = rows(out).length;
    assert.ok(partial > 0 && partial < total, `partial ${partial}`);

    const second = spawnCli([...args, '--resume']);
    assert.equal(await second.exited, 0, second.stderr);
    assert.match(second.stdout, new RegExp(`${partial} skipped`));
    const all = rows(out);
    assert.equal(all.length, total);
    assert.equal(new Set(all.map((r) => r.line)).size, total);
    assert.ok(all.every((r) => r.outcome === 'ok'));
  });
});
