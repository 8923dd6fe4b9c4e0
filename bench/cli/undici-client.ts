/**
 * The floor: raw undici `request` on a Pool of 50 keep-alive connections, 50 requests in flight,
 * every body read into a Buffer (as switchyard does), nothing else.
 *
 *   node bench/cli/undici-client.ts <port> <count> <concurrency>   (with --import tsx)
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
async function worker(): Promise<void> {
  for (let i = next++; i < count; i = next++) {
    const { statusCode, body } = await pool.request({ path: `/page/${i}`, method: 'GET' });
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    bytes += Buffer.concat(chunks).length;
    if (statusCode === 200) ok++;
  }
}

const t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const ms = performance.now() - t0;
await pool.close();
process.stdout.write(`${JSON.stringify({ ok, bytes, ms })}\n`);
