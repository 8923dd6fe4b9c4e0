/**
 * The demo's local web: four sites on 127.0.0.1 (one port each, so four hosts) with the faults a
 * real crawl meets. Deterministic: whether a page misbehaves depends only on its number.
 *
 * - www:    HTML pages with links; some slow (300–800 ms), a few hung (never answer), some reset
 *           the connection on the first attempt, large bodies (over the demo's cap), 404s,
 *           redirects (one hop) and redirect loops.
 * - api:    every tenth path answers 429 with Retry-After: 1 on its first attempt.
 * - flaky:  5xx bursts: 503 for 400 ms out of every 1.5 s.
 * - broken: mostly 500s and resets: its circuit breaker opens.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoSite {
  /** Base URLs by site name. */
  readonly bases: Record<SiteName, string>;
  /** `count` URLs spread over the sites, with every fault represented. */
  urls(count: number): string[];
  /** Requests served so far. */
  readonly requests: number;
  close(): Promise<void>;
}

export type SiteName = 'www' | 'api' | 'flaky' | 'broken';

export interface DemoSiteOptions {
  /** Size of the large bodies, bytes (default 2 MiB). */
  largeBytes?: number;
}

/** A cheap deterministic hash of a page number into 0..999. */
function bucket(n: number): number {
  let x = (n * 2654435761) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  return x % 1000;
}

const WORDS =
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(
    ' ',
  );

function page(site: string, n: number, paragraphs = 3): string {
  const links: string[] = [];
  for (let i = 1; i <= 8; i++)
    links.push(`<a href="/page/${(n * 7 + i * 13) % 5000}">page ${(n * 7 + i * 13) % 5000}</a>`);
  links.push(
    '<a href="https://example.org/about#team">about</a>',
    '<a href="mailto:x@example.org">mail</a>',
  );
  const text: string[] = [];
  for (let p = 0; p < paragraphs; p++) {
    const words: string[] = [];
    for (let w = 0; w < 60; w++) words.push(WORDS[(n + p * 31 + w * 7) % WORDS.length]!);
    text.push(`<p>${words.join(' ')}</p>`);
  }
  return `<!doctype html><html><head><title>${site} page ${n} &amp; friends</title><style>p{margin:0}</style><script>var x = "<not text>";</script></head><body><h1>${site} ${n}</h1>${text.join('')}<nav>${links.join(' ')}</nav></body></html>`;
}

export async function startDemoSite(options: DemoSiteOptions = {}): Promise<DemoSite> {
  const largeBytes = options.largeBytes ?? 2 * 1024 * 1024;
  const large = Buffer.alloc(largeBytes, 'x');
  const attempts = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  let requests = 0;
  const started = Date.now();

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const attempt = (site: string, url: string) => {
    const key = `${site}${url}`;
    const n = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, n);
    return n;
  };
  const html = (res: ServerResponse, body: string, status = 200) => {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  const handlers: Record<SiteName, (req: IncomingMessage, res: ServerResponse) => void> = {
    www(req, res) {
      const url = req.url ?? '/';
      const m = /^\/(page|r|loop)\/(\d+)/.exec(url);
      if (m === null) return html(res, page('www', 0));
      const n = Number(m[2]);
      if (m[1] === 'r') {
        res.writeHead(301, { location: `/page/${n}` }).end();
        return;
      }
      if (m[1] === 'loop') {
        res.writeHead(302, { location: `/loop/${n + 1}` }).end();
        return;
      }
      const b = bucket(n);
      if (b < 3) return; // hung: never answers (the client's timeout must end it)
      if (b < 13 && attempt('www', url) === 1) {
        req.socket.destroy(); // connection reset, once: the retry gets the page
        return;
      }
      if (b < 23) {
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': large.length });
        res.end(large);
        return;
      }
      if (b < 28) return html(res, '<title>not found</title>', 404);
      if (b < 60) {
        later(300 + (b % 5) * 100, () => html(res, page('www', n)));
        return;
      }
      later(b % 15, () => html(res, page('www', n)));
    },
    api(req, res) {
      const url = req.url ?? '/';
      const n = Number(/(\d+)/.exec(url)?.[1] ?? 0);
      if (bucket(n) < 100 && attempt('api', url) === 1) {
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain' }).end('slow down');
        return;
      }
      later(2 + (n % 10), () => {
        const body = JSON.stringify({ id: n, name: `item ${n}` });
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      });
    },
    flaky(req, res) {
      const n = Number(/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      if ((Date.now() - started) % 1500 < 400) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('overloaded');
        return;
      }
      later(5 + (n % 20), () => html(res, page('flaky', n, 1)));
    },
    broken(req, res) {
      const n = Number(/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      const b = bucket(n);
      if (b < 150) return later(5, () => html(res, page('broken', n, 1)));
      if (b < 400) {
        req.socket.destroy();
        return;
      }
      later(20, () => res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error'));
    },
  };

  const servers = new Map<SiteName, Server>();
  const bases = {} as Record<SiteName, string>;
  for (const name of Object.keys(handlers) as SiteName[]) {
    const server = createServer((req, res) => {
      requests++;
      handlers[name](req, res);
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    servers.set(name, server);
    bases[name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  return {
    bases,
    get requests() {
      return requests;
    },
    urls(count: number): string[] {
      const out: string[] = [];
      for (let i = 0; i < count; i++) {
        const r = i % 20;
        if (r < 12) {
          // www: mostly pages; every 50th a redirect, every 199th a redirect loop
          if (i % 199 === 7) out.push(`${bases.www}/loop/${i}`);
          else if (i % 50 === 3) out.push(`${bases.www}/r/${i}`);
          else out.push(`${bases.www}/page/${i}`);
        } else if (r < 15) out.push(`${bases.api}/items/${i}`);
        else if (r < 18) out.push(`${bases.flaky}/page/${i}`);
        else out.push(`${bases.broken}/page/${i}`);
      }
      return out;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.all(
        [...servers.values()].map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
}
