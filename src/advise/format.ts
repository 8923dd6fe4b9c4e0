/** The human-readable rendering of an `Advice` (what `switchyard advise` prints without --json). */
import type { Advice, Stat } from './types.ts';
import { bytes, fmt, pct, times } from './verdict.ts';

const ms = (s: Stat) =>
  `median ${fmt(s.median)} ms  p95 ${fmt(s.p95)}  (min ${fmt(s.min)}, max ${fmt(s.max)})`;

/** Renders the report as plain text lines (no colour, no trailing newline). */
export function formatAdvice(advice: Advice): string {
  const lines: string[] = [];
  const target = `${advice.target.module}#${advice.target.export}`;
  lines.push(
    `${target}: ${advice.runs} runs after ${advice.warmup} warm-up, ${advice.machine.cores} cores, Node ${advice.machine.node}`,
  );
  lines.push('');
  const c = advice.calls;
  if (c !== null) {
    const cpuWhat =
      advice.cpuSource === 'process' ? 'the measuring process (its only work)' : 'its thread';
    lines.push(`  wall       ${ms(c.wallMs)}`);
    lines.push(`  cpu        ${ms(c.cpuMs)}  ${cpuWhat}`);
    lines.push(`  blocked    ${ms(c.blockedMs)}  longest stretch the loop could not run`);
    lines.push(`  loop busy  ${pct(c.elu.median)} of the call (median)`);
    if (c.runQueueMs.median > 0.05) {
      lines.push(`  run queue  ${ms(c.runQueueMs)}  waiting for a core (a busy machine)`);
    }
  }
  const t = advice.transfer;
  if (t !== null) {
    const result = t.cloneable ? bytes(t.resultBytes) : 'not cloneable';
    lines.push(
      `  transfer   args ${bytes(t.argsBytes)}, result ${result}: ${fmt(t.cloneMs)} ms to clone both ways`,
    );
  }
  const m = advice.memory;
  if (m.retainedBytes !== null) {
    const growth =
      m.growthBytesPerCall === null ? '' : `, ${signedMb(m.growthBytesPerCall)} MB per call`;
    lines.push(`  memory     retained ${signedMb(m.retainedBytes)} MB after the calls${growth}`);
  }
  const f = advice.failure;
  if (f !== null) {
    const how =
      f.kind === 'hang'
        ? `killed after the timeout${f.cpuMs === null ? '' : `, ${fmt(f.cpuMs)} ms of CPU meanwhile`}`
        : f.signal !== null
          ? `signal ${f.signal}`
          : `exit code ${f.exitCode}`;
    lines.push(`  ${advice.outcome.padEnd(9)}  during call ${f.call + 1} (${how})`);
    const tail = f.stderr.split('\n').filter((l) => l.trim() !== '');
    const first = tail.find((l) => /Error|FATAL/.test(l)) ?? tail[0];
    if (first !== undefined) lines.push(`  stderr     ${first.trim()}`);
  }
  const e = advice.estimate;
  if (e !== null) {
    lines.push(
      `  estimate   calls/s on ${e.cores} cores${e.parallelism < e.cores - 0.05 ? ` (${e.parallelism.toFixed(1)} cores' worth of CPU available, measured)` : ''}: loop ${rate(e.lanes.loop)}, thread pool (${e.threads}) ${rate(e.lanes.thread)}, process pool ${rate(e.lanes.process)}`,
    );
  }
  lines.push('');
  const v = advice.verdict;
  lines.push(`verdict: ${v.lane} — ${v.reason}`);
  if (e !== null && v.lane !== 'loop') {
    lines.push(`estimated speedup over the event loop: ${times(e.speedup)}`);
  }
  for (const note of v.notes) lines.push(`note: ${note}`);
  for (const warning of v.warnings) lines.push(`warning: ${warning}`);
  return lines.join('\n');
}

function signedMb(n: number): string {
  const v = n / 1024 / 1024;
  return `${v >= 0 ? '+' : ''}${v.toFixed(1)}`;
}

function rate(n: number): string {
  if (n >= 10_000) return `${(n / 1000).toFixed(0)}k`;
  if (n >= 100) return n.toFixed(0);
  return n.toFixed(1);
}
