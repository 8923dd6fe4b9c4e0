/**
 * The cli/ benchmark's web server, run in its own process: small HTML pages (~2 KB, a title,
 * three paragraphs and ten links) at /page/<n>, keep-alive, on 127.0.0.1. Prints its port on
 * stdout. /__cpu answers this process's CPU time so far (µs), so the runner can tell how much of
 * the machine the server used during each contender.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const WORDS =
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(
    ' ',
  );

function page(n: number): string {
  const text: string[] = [];
  for (let p = 0; p < 3; p++) {
    const words: string[] = [];
    for (let w = 0; w < 70; w++) words.push(WORDS[(n + p * 31 + w * 7) % WORDS.length]!);
    text.push(`<p>${words.join(' ')}</p>`);
  }
  const links: string[] = [];
  for (let i = 1; i <= 8; i++)
    links.push(`<a href="/page/${(n * 7 + i * 13) % 100000}">next ${i}</a>`);
  links.push(
    '<a href="https://example.org/about#team">about</a>',
    '<a href="mailto:x@example.org">mail</a>',
  );
  return `<!doctype html><html><head><title>Page ${n}</title><style>p{margin:0}</style></head><body><h1>Page ${n}</h1>${text.join('')}<nav>${links.join(' ')}</nav></body></html>`;
}

// 1,000 distinct bodies, served round-robin by page number: the server stays cheap.
const pages = Array.from({ length: 1000 }, (_, n) => Buffer.from(page(n)));

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/__cpu') {
    const { user, system } = process.cpuUsage();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ cpuUs: user + system }));
    return;
  }
  const match = /^\/page\/(\d+)$/.exec(url);
  if (match === null) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
    return;
  }
  const body = pages[Number(match[1]) % pages.length]!;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.maxRequestsPerSocket = 0;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
