// Structured concurrency in one screen: fetch pages from a local server in a TaskGroup, each
// under a timeout, while one endpoint hangs and one fails. Nothing outlives the group; Ctrl-C
// cancels everything and exits 130. Runs offline: the server is on 127.0.0.1.
//
//   npm run demo
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gather, TimeoutError, taskGroup, timeout } from '../src/index.ts';

const server = createServer((req, res) => {
  const page = Number(req.url?.slice(1));
  if (page === 7) return; // hangs: never answers
  if (page === 13) {
    res.writeHead(500).end('boom');
    return;
  }
  setTimeout(() => res.end(`<title>page ${page}</title>`), 5 + (page % 5) * 10);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const shutdown = new AbortController();
process.once('SIGINT', () => shutdown.abort(new Error('interrupted')));

async function fetchTitle(page: number, signal: AbortSignal): Promise<string> {
  return timeout(
    200,
    async (inner) => {
      const response = await fetch(`${base}/${page}`, { signal: inner });
      if (!response.ok) throw new Error(`page ${page}: HTTP ${response.status}`);
      return (await response.text()).replace(/<\/?title>/g, '');
    },
    { signal },
  );
}

try {
  // 1. gather with returnExceptions: every page, failures in place.
  const pages = Array.from({ length: 16 }, (_, i) => i + 1);
  const results = await gather(
    pages.map((page) => (signal: AbortSignal) => fetchTitle(page, signal)),
    { returnExceptions: true, signal: shutdown.signal },
  );
  for (const [i, result] of results.entries()) {
    const text =
      result instanceof TimeoutError
        ? `timed out (${result.message})`
        : result instanceof Error
          ? `failed: ${result.message}`
          : result;
    console.log(`  ${String(pages[i]).padStart(2)}  ${text}`);
  }

  // 2. A task group: the first failure cancels the siblings, and the group reports it.
  await taskGroup(
    async (tg) => {
      for (const page of [1, 2, 13, 3]) {
        tg.spawn((signal) => fetchTitle(page, signal), { name: `page ${page}` });
      }
    },
    { signal: shutdown.signal, name: 'pages' },
  ).catch((error: Error) => console.log(`\n  task group: ${error.message}`));
} catch (error) {
  if (!shutdown.signal.aborted) throw error;
  process.exitCode = 130;
} finally {
  server.closeAllConnections();
  server.close();
}
