// Measurements for observe/ (not a test): idle CPU cost of monitorLoop() and detectBlocking(),
// and the event-loop delay while /metrics with 1,000+ series is scraped over HTTP.
//   node --import tsx bench/observe/run.ts
// Each idle measurement runs in a fresh process; CPU is process.cpuUsage(), which counts every
// thread of the process (the watchdog worker included).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  DurationHistogram,
  detectBlocking,
  Metrics,
  monitorLoop,
  serveMetrics,
} from '../../src/observe/index.ts';

const IDLE_SECONDS = 10;
const self = fileURLToPath(import.meta.url);

async function idle(mode: string): Promise<void> {
  const keepAlive = setInterval(() => {}, 1 << 30);
  if (mode === 'monitorLoop') monitorLoop({ resolutionMs: 10 });
  if (mode === 'detectBlocking') await detectBlocking({ thresholdMs: 100 }).ready;
  if (mode === 'detectBlocking-50') await detectBlocking({ thresholdMs: 50 }).ready;
  if (mode === 'both') {
    monitorLoop({ resolutionMs: 10 });
    await detectBlocking({ thresholdMs: 100 }).ready;
  }
  await new Promise((r) => setTimeout(r, 1000)); // warm up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const cpu = process.cpuUsage(cpu0);
  const wallUs = (performance.now() - t0) * 1000;
  clearInterval(keepAlive);
  process.stdout.write(JSON.stringify({ pct: ((cpu.user + cpu.system) / wallUs) * 100 }));
  process.exit(0);
}

function runIdle(mode: string): number {
  const out = execFileSync(process.execPath, ['--import', 'tsx', self, 'idle', mode], {
    encoding: 'utf8',
  });
  return (JSON.parse(out) as { pct: number }).pct;
}

async function scrapeDelay(): Promise<void> {
  const metrics = new Metrics();
  for (let i = 0; i < 250; i++) {
    const c = metrics.component(`stage-${i}`);
    for (let k = 0; k < 20; k++) c.recordTask(k % 10 === 0 ? 'error' : 'ok', (k + 1) / 200);
    c.setInflight(i % 7);
    c.setQueueDepth(i % 13);
  }
  const text = await metrics.prometheus();
  const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  const tasksSeries = text
    .split('\n')
    .filter((l) => l.startsWith('switchyard_tasks_total{')).length;

  // Time to render, in process.
  const render = new DurationHistogram();
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await metrics.prometheus();
    render.recordMs(performance.now() - t);
  }

  await using server = await serveMetrics({ metrics, port: 0 });
  const measure = async (scrapes: number) => {
    // The scraper is a worker thread, so the main loop only serves.
    const monitor = monitorLoop({ resolutionMs: 1 });
    const started = performance.now();
    if (scrapes > 0) {
      const worker = new Worker(
        `const { workerData, parentPort } = require('node:worker_threads');
         (async () => {
           for (let i = 0; i < workerData.n; i++) await (await fetch(workerData.url)).text();
           parentPort.postMessage('done');
         })();`,
        { eval: true, execArgv: [], workerData: { url: server.url, n: scrapes } },
      );
      await new Promise((r) => worker.once('message', r));
      await worker.terminate();
    } else {
      await new Promise((r) => setTimeout(r, 3000));
    }
    const elapsed = performance.now() - started;
    const s = monitor.stats();
    monitor.stop();
    return { ...s, elapsed };
  };
  const idleLoop = await measure(0);
  const busy = await measure(300);
  const ms = (s: number) => `${(s * 1000).toFixed(2)} ms`;
  const r = render.stats();
  console.log(
    `\nScrape of ${tasksSeries} switchyard_tasks_total series (${lines} sample lines, ${(Buffer.byteLength(text) / 1024).toFixed(0)} KiB):`,
  );
  console.log(
    `  render metrics.prometheus()   p50 ${ms(r.p50)}  p99 ${ms(r.p99)}  max ${ms(r.max)}  (200 renders)`,
  );
  console.log(
    `  loop delay, idle 3 s          p50 ${ms(idleLoop.delay.p50)}  p99 ${ms(idleLoop.delay.p99)}  max ${ms(idleLoop.delay.max)}  utilisation ${(idleLoop.utilization * 100).toFixed(1)}%`,
  );
  console.log(
    `  loop delay, 300 HTTP scrapes  p50 ${ms(busy.delay.p50)}  p99 ${ms(busy.delay.p99)}  max ${ms(busy.delay.max)}  utilisation ${(busy.utilization * 100).toFixed(1)}%  (${((300 / busy.elapsed) * 1000).toFixed(0)} scrapes/s back to back)`,
  );
}

if (process.argv[2] === 'idle') {
  await idle(process.argv[3]!);
} else {
  console.log(
    `observe/ measurements (node ${process.version}, ${IDLE_SECONDS} s idle windows, fresh process each)`,
  );
  console.log('Idle CPU, % of one core (process-wide, all threads):');
  const base = runIdle('baseline');
  console.log(`  idle process (baseline)                 ${base.toFixed(3)}%`);
  for (const [mode, label] of [
    ['monitorLoop', 'monitorLoop({ resolutionMs: 10 })'],
    ['detectBlocking', 'detectBlocking({ thresholdMs: 100 })'],
    ['detectBlocking-50', 'detectBlocking({ thresholdMs: 50 })'],
    ['both', 'both together'],
  ] as const) {
    const pct = runIdle(mode);
    console.log(
      `  ${label.padEnd(40)}${pct.toFixed(3)}%  (+${(pct - base).toFixed(3)} over baseline)`,
    );
  }
  await scrapeDelay();
}
