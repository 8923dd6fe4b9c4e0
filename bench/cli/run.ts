/**
 * The cli/ benchmark: `switchyard fetch` end to end (fetch + parse on the thread pool + SQLite
 * store) against raw undici (the floor) and Python's ThreadPoolExecutor + http.client (the seed
 * stack), all at concurrency 50 against one local server in its own process serving ~2 KB HTML
 * pages. Every contender runs in a fresh process; its peak RSS is read at its exit.
 *
 * switchyard runs as it is installed: the package is built (tsc, into a temp dir) and its
 * bin/switchyard.js runs the compiled dist/, so no TypeScript loader is measured. "Everything
 * on" means every policy of a fetch is on each request's path (see POLICIES below), the
 * metrics endpoint is served and the plain progress lines are written.
 *
 *   node --import tsx bench/cli/run.ts [urls]     (default 50,000; about 2 minutes in all)
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const N = Number(process.argv[2] ?? 50_000);
const CONCURRENCY = 50;
const root = fileURLToPath(new URL('../../', import.meta.url));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const tsx = import.meta.resolve('tsx');
const tmp = mkdtempSync(join(os.tmpdir(), 'switchyard-bench-cli-'));

interface Result {
  name: string;
  ok: number;
  /** The contender's own measure: first request → last row (switchyard: its summary line). */
  ms: number;
  /** Spawn → exit, seen from here: process start-up included. */
  wallMs: number;
  maxRssKb: number;
  cpuMs: number;
  serverCpuMs: number;
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ stdout: string; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      if (code === 0) resolve({ stdout, wallMs });
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${stderr}\n${stdout}`));
    });
  });
}

async function startServer(): Promise<{ port: number; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', tsx, here('./server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const [first] = await Promise.race([
    (async () => {
      for await (const line of lines) return [line];
      return [undefined];
    })(),
    new Promise<never>((_, reject) => child.once('exit', () => reject(new Error('server died')))),
  ]);
  return { port: Number(first), stop: () => child.kill('SIGTERM') };
}

/** Builds the package into `tmp/pkg` (dist/, bin/, package.json, node_modules linked). */
function buildPackage(): string {
  const pkg = join(tmp, 'pkg');
  mkdirSync(join(pkg, 'bin'), { recursive: true });
  try {
    execFileSync(
      process.execPath,
      [
        join(root, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(root, 'tsconfig.build.json'),
        '--outDir',
        join(pkg, 'dist'),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (error) {
    // tsc still emits on type errors; a tree mid-edit elsewhere must not stop this benchmark.
    if (!existsSync(join(pkg, 'dist/cli/main.js'))) throw error;
    const out = String((error as { stdout?: unknown }).stdout ?? '');
    const files = [...new Set([...out.matchAll(/^(\S+?)\(\d+,\d+\): error/gm)].map((m) => m[1]))];
    console.log(
      `(tsc reported type errors in ${files.join(', ') || 'the tree'}; its output is used)`,
    );
  }
  copyFileSync(join(root, 'bin/switchyard.js'), join(pkg, 'bin/switchyard.js'));
  copyFileSync(join(root, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  return pkg;
}

/** What "everything on" is: the flags given, and what they put on each request's path. */
const FLAGS = [
  '--concurrency',
  String(CONCURRENCY),
  '--per-host',
  String(CONCURRENCY),
  '--rate',
  '1000000',
  '--metrics-port',
  '0',
  '--progress-interval',
  '2000',
];
const POLICIES = [
  'per-host retry (3, exponential backoff, Retry-After) → adaptive concurrency (AIMD, max 50)',
  '→ circuit breaker (50% of ≥ 20 in 10 s) → token-bucket rate limit (10⁶/s: on the path, never',
  'binding) → 10 s timeout per attempt; 5 MB body cap, ≤ 5 redirects; parse on the thread pool',
  '(htmlparser2 + sha256, batched per loop turn); SQLite results + journal in one transaction',
  '(WAL, group commit); metrics registry + Prometheus endpoint; plain progress every 2 s (stderr)',
];

async function serverCpuMs(port: number): Promise<number> {
  const { request } = await import('undici');
  const { body } = await request(`http://127.0.0.1:${port}/__cpu`);
  return ((await body.json()) as { cpuUs: number }).cpuUs / 1000;
}

async function measure(
  name: string,
  port: number,
  body: () => Promise<Omit<Result, 'name' | 'serverCpuMs'>>,
): Promise<Result> {
  const before = await serverCpuMs(port);
  const r = await body();
  const after = await serverCpuMs(port);
  return { name, ...r, serverCpuMs: after - before };
}

async function switchyard(port: number, pkg: string) {
  const urls = join(tmp, 'urls.txt');
  let text = '';
  for (let i = 0; i < N; i++) text += `http://127.0.0.1:${port}/page/${i}\n`;
  writeFileSync(urls, text);
  const out = join(tmp, 'results.db');
  const stats = join(tmp, 'switchyard-stats.json');
  const { stdout, wallMs } = await run(
    process.execPath,
    [
      '--import',
      here('./rss.mjs'),
      join(pkg, 'bin/switchyard.js'),
      'fetch',
      urls,
      '--out',
      out,
      '--overwrite',
      ...FLAGS,
    ],
    { SWITCHYARD_BENCH_STATS: stats },
  );
  // "fetched 30000 URLs in 6.1 s (4918/s)": the run itself, without Node + tsx start-up.
  const m = /fetched (\d+) URLs in [^(]+\((\d+)\/s\)/.exec(stdout);
  if (m === null) throw new Error(`no summary line in switchyard's output:\n${stdout}`);
  const db = new Database(out, { readonly: true });
  const rows = db.prepare('SELECT outcome, count(*) AS n FROM results GROUP BY outcome').all() as {
    outcome: string;
    n: number;
  }[];
  const withTitle = (
    db
      .prepare("SELECT count(*) AS n FROM results WHERE title LIKE 'Page %' AND link_count = 9")
      .get() as { n: number }
  ).n;
  db.close();
  const ok = rows.find((r) => r.outcome === 'ok')?.n ?? 0;
  if (ok !== N || withTitle !== N) {
    throw new Error(
      `switchyard stored ${JSON.stringify(rows)}; ${withTitle} parsed rows of ${N}:\n${stdout}`,
    );
  }
  const { maxRssKb, cpuMs } = JSON.parse(readFileSync(stats, 'utf8')) as {
    maxRssKb: number;
    cpuMs: number;
  };
  return { ok, ms: (Number(m[1]) / Number(m[2])) * 1000, wallMs, maxRssKb, cpuMs };
}

async function undici(port: number, count = N) {
  const stats = join(tmp, 'undici-stats.json');
  const { stdout, wallMs } = await run(
    process.execPath,
    [
      '--import',
      here('./rss.mjs'),
      here('./undici-client.mjs'),
      String(port),
      String(count),
      String(CONCURRENCY),
    ],
    { SWITCHYARD_BENCH_STATS: stats },
  );
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { ok: number; ms: number };
  const { maxRssKb, cpuMs } = JSON.parse(readFileSync(stats, 'utf8')) as {
    maxRssKb: number;
    cpuMs: number;
  };
  return { ok: r.ok, ms: r.ms, wallMs, maxRssKb, cpuMs };
}

async function python(port: number) {
  const { stdout, wallMs } = await run('python3', [
    here('./python_fetcher.py'),
    String(port),
    String(N),
    String(CONCURRENCY),
  ]);
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as Omit<Result, 'name' | 'wallMs'>;
  return { ok: r.ok, ms: r.ms, wallMs, maxRssKb: r.maxRssKb, cpuMs: r.cpuMs };
}

const rate = (r: Result, ms = r.ms) => (r.ok / ms) * 1000;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');

const pkg = buildPackage();
const server = await startServer();
let results: Result[];
try {
  const pythonVersion = (await run('python3', ['--version'])).stdout.trim();
  console.log(
    `switchyard cli benchmark — Node ${process.version}, ${pythonVersion}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}`,
  );
  console.log(
    `${fmt(N)} URLs of ~${(await run(process.execPath, ['-e', `fetch('http://127.0.0.1:${server.port}/page/1').then(r=>r.arrayBuffer()).then(b=>console.log(b.byteLength))`])).stdout.trim()} B HTML, concurrency ${CONCURRENCY}, one server process on 127.0.0.1; each contender a fresh process, run once`,
  );
  console.log(
    `switchyard fetch ${FLAGS.join(' ')} (parser threads: --threads default, ${Math.max(1, os.availableParallelism() - 1)} here) — everything on:`,
  );
  for (const line of POLICIES) console.log(`  ${line}`);
  // Warm the server (JIT) so the first contender does not pay for it.
  await undici(server.port, 5_000);
  results = [
    await measure('raw undici Pool.request', server.port, () => undici(server.port)),
    await measure('switchyard fetch (e2e)', server.port, () => switchyard(server.port, pkg)),
    await measure('Python TPE(50)+http.client', server.port, () => python(server.port)),
  ];
} finally {
  server.stop();
}

console.log(
  `\n  ${'contender'.padEnd(28)} ${'req/s'.padStart(8)} ${'time'.padStart(8)} ${'wall'.padStart(8)} ${'req/s wall'.padStart(11)} ${'peak RSS'.padStart(9)} ${'CPU'.padStart(7)} ${'CPU/req'.padStart(8)} ${'server CPU'.padStart(10)}`,
);
for (const r of results) {
  console.log(
    `  ${r.name.padEnd(28)} ${fmt(rate(r)).padStart(8)} ${`${fmt(r.ms / 1000, 2)} s`.padStart(8)} ${`${fmt(r.wallMs / 1000, 2)} s`.padStart(8)} ${fmt(rate(r, r.wallMs)).padStart(11)} ${`${fmt(r.maxRssKb / 1024)} MB`.padStart(9)} ${`${fmt(r.cpuMs / 1000, 1)} s`.padStart(7)} ${`${fmt((r.cpuMs * 1000) / r.ok)} µs`.padStart(8)} ${`${fmt(r.serverCpuMs / 1000, 1)} s`.padStart(10)}`,
  );
}
console.log(
  "  (req/s, time: the contender's own run — switchyard's is its summary line, reading the URL file to the last row stored; wall: spawn → exit, start-up included; CPU: the contender's user+sys, all threads, start-up included; CPU/req: that over the requests — the figure least moved by a busy machine)",
);

const [floor, ours, py] = results as [Result, Result, Result];
const vsUndici = rate(ours) / rate(floor);
const vsPython = rate(ours) / rate(py);
console.log('\nGoals');
console.log(
  `  switchyard fetch vs raw undici: ${fmt(vsUndici * 100)}% (goal ≥ 70%) ${verdict(vsUndici >= 0.7)}   [wall, start-up included: ${fmt((rate(ours, ours.wallMs) / rate(floor, floor.wallMs)) * 100)}%]`,
);
console.log(
  `  switchyard fetch vs Python:     ${fmt(vsPython, 2)}× (goal ≥ 2×) ${verdict(vsPython >= 2)}   [wall: ${fmt(rate(ours, ours.wallMs) / rate(py, py.wallMs), 2)}×]`,
);
rmSync(tmp, { recursive: true, force: true });
