/**
 * Progress for long commands, read from `metrics.snapshot()` and the command's own tallies: on
 * a TTY a live per-stage display redrawn in place; otherwise one plain line every few seconds.
 */
import type { MetricsSnapshot } from '../observe/metrics.ts';

export interface Tally {
  /** Items in the input, when known (enables % and ETA). */
  total: number | undefined;
  ok: number;
  failed: number;
  /** Skipped because a previous run finished them (--resume). */
  skipped: number;
}

export interface ProgressOptions {
  stages: readonly string[];
  tty: boolean;
  write: (text: string) => unknown;
  snapshot: () => MetricsSnapshot;
  tally: () => Tally;
  /** Plain mode: ms between lines. TTY: redraw period. */
  intervalMs: number;
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

export class Progress {
  readonly #options: ProgressOptions;
  readonly #started = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #lines = 0;
  #last: { at: number; done: number; stageTotals: Map<string, number> } | undefined;

  constructor(options: ProgressOptions) {
    this.#options = options;
  }

  start(): void {
    this.#last = { at: Date.now(), done: 0, stageTotals: new Map() };
    this.#timer = setInterval(() => this.#tick(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Stops and, on a TTY, leaves the last display on screen. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#options.tty) this.#tick();
  }

  #tick(): void {
    const now = Date.now();
    const tally = this.#options.tally();
    const snapshot = this.#options.snapshot();
    const last = this.#last!;
    const done = tally.ok + tally.failed;
    const seconds = Math.max((now - last.at) / 1000, 1e-3);
    const rate = (done - last.done) / seconds;
    const overall = done / Math.max((now - this.#started) / 1000, 1e-3);
    const left = tally.total === undefined ? undefined : tally.total - done - tally.skipped;
    const eta =
      left !== undefined && overall > 0 ? ` · ETA ${formatMs((left / overall) * 1000)}` : '';
    const of = tally.total === undefined ? '' : `/${tally.total - tally.skipped}`;
    const pct =
      tally.total === undefined || tally.total - tally.skipped <= 0
        ? ''
        : ` (${Math.floor((100 * done) / (tally.total - tally.skipped))}%)`;
    const elapsed = formatMs(now - this.#started).padStart(6);
    if (!this.#options.tty) {
      const fetch = snapshot.components[this.#options.stages[0] ?? ''];
      const p95 = fetch ? ` · p95 ${formatMs(fetch.duration.p95 * 1000)}` : '';
      // Always shown, so that every line has the same fields (0 before the stage's first item).
      const inflight = ` · in flight ${fetch?.inflight ?? 0}`;
      this.#options.write(
        `[${elapsed}] ${done}${of} done${pct} · ok ${tally.ok} · failed ${tally.failed} · ${rate.toFixed(0)}/s${inflight}${p95}${eta}\n`,
      );
    } else {
      const rows: string[] = [];
      rows.push(
        `${'stage'.padEnd(8)} ${'done'.padStart(8)} ${'failed'.padStart(7)} ${'in-flight'.padStart(9)} ${'queued'.padStart(6)} ${'rate/s'.padStart(7)} ${'p95'.padStart(9)}`,
      );
      for (const name of this.#options.stages) {
        const c = snapshot.components[name];
        const total = c?.tasks.total ?? 0;
        const before = last.stageTotals.get(name) ?? 0;
        last.stageTotals.set(name, total);
        rows.push(
          `${name.padEnd(8)} ${String(c?.tasks.ok ?? 0).padStart(8)} ${String(total - (c?.tasks.ok ?? 0)).padStart(7)} ${String(c?.inflight ?? 0).padStart(9)} ${String(c?.queueDepth ?? 0).padStart(6)} ${((total - before) / seconds).toFixed(0).padStart(7)} ${(c ? formatMs(c.duration.p95 * 1000) : '-').padStart(9)}`,
        );
      }
      rows.push(
        `${elapsed} ${done}${of}${pct} · ok ${tally.ok} · failed ${tally.failed}${tally.skipped ? ` · skipped ${tally.skipped}` : ''} · ${rate.toFixed(0)}/s${eta}`,
      );
      const up = this.#lines > 0 ? `\x1b[${this.#lines}F` : '';
      this.#options.write(`${up}${rows.map((r) => `\x1b[2K${r}`).join('\n')}\n`);
      this.#lines = rows.length;
    }
    last.at = now;
    last.done = done;
  }
}

/** A left/right aligned text table. */
export function table(
  headers: string[],
  rows: (string | number)[][],
  /** Per column: 'l' or 'r'. Default: the first left, the rest right. */
  align?: readonly ('l' | 'r')[],
): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((cell, i) =>
          (align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'l'
            ? cell.padEnd(widths[i]!)
            : cell.padStart(widths[i]!),
        )
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `  ${line}`)
    .join('\n');
}
