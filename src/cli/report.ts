/**
 * `switchyard report <results.db> --html report.html`: one self-contained HTML file (inline CSS
 * and SVG, no script, no network) with throughput over time, the latency distribution and
 * outcomes by host, from the `results` table `fetch` writes.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { type CommandIo, cwdOf, guard, parseFlags } from './args.ts';
import { EXIT_OK, UsageError } from './io.ts';
import { formatMs } from './progress.ts';

export const reportUsage = `Usage: switchyard report <results.db> --html <report.html>

Writes a single self-contained HTML page (no network needed to view it) with charts of
throughput over time, the latency distribution and outcomes by host.

Options:
  --html <path>   where to write the page (required)
  --title <text>  the page title (default "switchyard fetch report")
  --debug         print stack traces of errors
  -h, --help      this help`;

const options = {
  html: { type: 'string' },
  title: { type: 'string' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Row {
  host: string | null;
  outcome: string;
  status: number | null;
  started_at: number;
  duration_ms: number;
}

const COLORS: Record<string, string> = {
  ok: '#2e7d32',
  http_error: '#c62828',
  network: '#ef6c00',
  timeout: '#6a1b9a',
  circuit_open: '#37474f',
  too_large: '#00838f',
  redirects: '#ad1457',
  invalid: '#9e9d24',
};
const color = (outcome: string) => COLORS[outcome] ?? '#795548';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function main(argv: string[], io: CommandIo): Promise<number> {
  return guard('report', argv, io, async () => {
    const { values, positionals } = parseFlags('report', argv, options);
    if (values.help) {
      io.stdout.write(`${reportUsage}\n`);
      return EXIT_OK;
    }
    if (positionals.length !== 1)
      throw new UsageError(
        'report: expected one results database, e.g. switchyard report results.db --html report.html',
      );
    if (values.html === undefined) throw new UsageError('report: --html <path> is required');
    const input = resolve(cwdOf(io), positionals[0]!);
    if (!existsSync(input)) throw new UsageError(`report: no such file: ${positionals[0]}`);
    const { rows, bytes } = writeReport(
      input,
      resolve(cwdOf(io), values.html),
      values.title ?? 'switchyard fetch report',
      positionals[0]!,
      values.html,
    );
    io.stdout.write(`wrote ${values.html} (${rows} rows, ${Math.ceil(bytes / 1024)} KiB)\n`);
    return EXIT_OK;
  });
}

/** Reads `results` from `input` and writes the page; bad input becomes a `UsageError`. */
export function writeReport(
  input: string,
  output: string,
  title: string,
  inputName = input,
  outputName = output,
): { rows: number; bytes: number } {
  let rows: Row[];
  try {
    const db = new Database(input, { readonly: true, fileMustExist: true });
    try {
      rows = db
        .prepare('SELECT host, outcome, status, started_at, duration_ms FROM results')
        .all() as Row[];
    } finally {
      db.close();
    }
  } catch (error) {
    throw new UsageError(
      `report: ${inputName} is not a fetch results database (${(error as Error).message})`,
    );
  }
  const html = renderReport(rows, title);
  try {
    writeFileSync(output, html);
  } catch (error) {
    throw new UsageError(`report: cannot write ${outputName}: ${(error as Error).message}`);
  }
  return { rows: rows.length, bytes: html.length };
}

function svg(width: number, height: number, body: string, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeHtml(label)}" viewBox="0 0 ${width} ${height}" width="100%" class="chart">${body}</svg>`;
}

function throughputChart(rows: Row[]): string {
  const W = 800;
  const H = 220;
  const P = 40;
  if (rows.length === 0) return '<p>No rows.</p>';
  const ends = rows.map((r) => r.started_at + r.duration_ms);
  const t0 = Math.min(...rows.map((r) => r.started_at));
  const t1 = Math.max(...ends);
  const span = Math.max(t1 - t0, 1);
  const bucketMs = Math.max(100, Math.ceil(span / 60 / 100) * 100);
  const n = Math.ceil(span / bucketMs) + 1;
  const counts = new Array<number>(n).fill(0);
  for (const e of ends) counts[Math.floor((e - t0) / bucketMs)]!++;
  const rates = counts.map((c) => (c * 1000) / bucketMs);
  const max = Math.max(...rates, 1);
  const x = (i: number) => P + ((W - 2 * P) * i) / Math.max(n - 1, 1);
  const y = (v: number) => H - P + (-(H - 2 * P) * v) / max;
  const points = rates.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  return svg(
    W,
    H,
    `<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#999"/><line x1="${P}" y1="${P}" x2="${P}" y2="${H - P}" stroke="#999"/>` +
      `<polyline fill="none" stroke="#1565c0" stroke-width="2" points="${points}"/>` +
      `<text x="${P}" y="${P - 8}" font-size="12">${max.toFixed(0)} URLs/s</text>` +
      `<text x="${W - P}" y="${H - P + 16}" font-size="12" text-anchor="end">${formatMs(span)}</text>` +
      `<text x="${P}" y="${H - P + 16}" font-size="12">0</text>`,
    'throughput over time',
  );
}

function latencyChart(rows: Row[]): string {
  const W = 800;
  const H = 220;
  const P = 40;
  const edges = [
    1,
    2,
    5,
    10,
    20,
    50,
    100,
    200,
    500,
    1000,
    2000,
    5000,
    10_000,
    30_000,
    Number.POSITIVE_INFINITY,
  ];
  const counts = new Array<number>(edges.length).fill(0);
  for (const r of rows) counts[edges.findIndex((e) => r.duration_ms < e)]!++;
  const max = Math.max(...counts, 1);
  const bw = (W - 2 * P) / edges.length;
  let body = `<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#999"/>`;
  counts.forEach((c, i) => {
    const h = ((H - 2 * P) * c) / max;
    const label = Number.isFinite(edges[i]!) ? `<${formatMs(edges[i]!)}` : '≥30 s';
    body +=
      `<rect class="bar" x="${(P + i * bw + 2).toFixed(1)}" y="${(H - P - h).toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${h.toFixed(1)}" fill="#5e35b1"><title>${escapeHtml(label)}: ${c}</title></rect>` +
      `<text x="${(P + i * bw + bw / 2).toFixed(1)}" y="${H - P + 14}" font-size="10" text-anchor="middle">${escapeHtml(label)}</text>` +
      (c > 0
        ? `<text x="${(P + i * bw + bw / 2).toFixed(1)}" y="${(H - P - h - 4).toFixed(1)}" font-size="10" text-anchor="middle">${c}</text>`
        : '');
  });
  return svg(W, H, body, 'latency distribution');
}

function hostChart(rows: Row[]): { chart: string; outcomes: string[] } {
  const byHost = new Map<string, Map<string, number>>();
  const outcomes = new Set<string>();
  for (const r of rows) {
    const host = r.host ?? '(invalid)';
    const m = byHost.get(host) ?? new Map<string, number>();
    m.set(r.outcome, (m.get(r.outcome) ?? 0) + 1);
    byHost.set(host, m);
    outcomes.add(r.outcome);
  }
  const hosts = [...byHost].sort((a, b) => sum(b[1]) - sum(a[1])).slice(0, 20);
  const W = 800;
  const rowH = 24;
  const L = 180;
  const H = hosts.length * rowH + 20;
  const max = Math.max(...hosts.map(([, m]) => sum(m)), 1);
  let body = '';
  hosts.forEach(([host, m], i) => {
    let x = L;
    body += `<text x="${L - 6}" y="${i * rowH + 16}" font-size="12" text-anchor="end">${escapeHtml(host)}</text>`;
    for (const [outcome, c] of [...m].sort()) {
      const w = ((W - L - 60) * c) / max;
      body += `<rect class="bar" x="${x.toFixed(1)}" y="${i * rowH + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${color(outcome)}"><title>${escapeHtml(host)} ${escapeHtml(outcome)}: ${c}</title></rect>`;
      x += w;
    }
    body += `<text x="${(x + 4).toFixed(1)}" y="${i * rowH + 16}" font-size="11">${sum(m)}</text>`;
  });
  return { chart: svg(W, H, body, 'outcomes by host'), outcomes: [...outcomes].sort() };
}

function sum(m: Map<string, number>): number {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
}

export function renderReport(rows: Row[], title: string): string {
  const byOutcome = new Map<string, number>();
  for (const r of rows) byOutcome.set(r.outcome, (byOutcome.get(r.outcome) ?? 0) + 1);
  const sorted = rows.map((r) => r.duration_ms).sort((a, b) => a - b);
  const pct = (p: number) =>
    sorted.length
      ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
      : Number.NaN;
  const { chart, outcomes } = hostChart(rows);
  const legend = outcomes
    .map((o) => `<span class="key"><i style="background:${color(o)}"></i>${escapeHtml(o)}</span>`)
    .join(' ');
  const table = [...byOutcome]
    .sort((a, b) => b[1] - a[1])
    .map(
      ([o, c]) =>
        `<tr><td>${escapeHtml(o)}</td><td>${c}</td><td>${((100 * c) / Math.max(rows.length, 1)).toFixed(1)}%</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem auto;max-width:860px;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse}td,th{padding:2px 12px;text-align:right}td:first-child,th:first-child{text-align:left}
.key{margin-right:12px;font-size:12px}.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
.chart{border:1px solid #eee}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p id="summary">${rows.length} URLs · p50 ${formatMs(pct(0.5))} · p95 ${formatMs(pct(0.95))} · p99 ${formatMs(pct(0.99))}</p>
<table id="outcomes"><tr><th>outcome</th><th>count</th><th>share</th></tr>${table}</table>
<h2>Throughput over time</h2>
<figure id="throughput">${throughputChart(rows)}</figure>
<h2>Latency distribution (per URL, retries included)</h2>
<figure id="latency">${latencyChart(rows)}</figure>
<h2>Outcomes by host</h2>
<p>${legend}</p>
<figure id="hosts">${chart}</figure>
</body></html>
`;
}
