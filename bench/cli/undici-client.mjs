/**
 * The floor: raw undici `request` on a Pool of 50 keep-alive connections, 50 requests in flight,
 * every body read into a Buffer, nothing else. Plain JavaScript, run by plain `node`: switchyard
 * runs compiled (no TypeScript loader), so this side must not pay for one either — tsx's start-up
 * alone was ~0.4 s of CPU, ~20 µs a request at 20,000 requests.
 *
 *   node bench/cli/undici-client.mjs <port> <count> <concurrency>
 */
import { Pool } from 'undici';

const [port, countText, concurrencyText] = process.argv.slice(2);
const count = Number(countText);
const concurrency = Number(concurrencyText);
const origin = `http://127.0.0.1:${port}`;
const pool = new Pool(origin, { connections: concurrency, keepAliveTimeout: 10_000 });

let next = 0;
let ok = 0;
let bytes = 0;
async function worker() {
  for (let i = next++; i < count; i = next++) {
    const { statusCode, body } = await pool.request({ path: `/page/${i}`, method: 'GET' });
    const chunks = [];
    for await (const chunk of body) chunks.push(chunk);
    bytes += Buffer.concat(chunks).length;
    if (statusCode === 200) ok++;
  }
}

const t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const ms = performance.now() - t0;
await pool.close();
process.stdout.write(`${JSON.stringify({ ok, bytes, ms })}\n`);
