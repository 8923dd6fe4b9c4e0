// Preloaded (--import) into a Node contender: at exit, the main thread writes the process's peak
// RSS (resourceUsage().maxRSS, KiB, every thread included) and CPU time to the file named by
// SWITCHYARD_BENCH_STATS. Worker threads inherit the flag and do nothing.
import { writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env.SWITCHYARD_BENCH_STATS;
if (isMainThread && file) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(
      file,
      JSON.stringify({ maxRssKb: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }),
    );
  });
}
