// The report in a real headless browser: Debian's chromium driven by playwright-core (both
// installed by .ci/run). Skipped, saying why, where either is missing.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { main } from '../../src/cli/report.ts';
import { type FetchResult, ResultsSink } from '../../src/cli/results.ts';
import { captureIo, tempDir } from './support.ts';

/** The little of a DOM element the page-side callbacks touch (no DOM lib in this project). */
interface El {
  getBoundingClientRect(): { width: number; height: number };
  parentElement: { id: string } | null;
}
interface Page {
  on(event: 'console', fn: (m: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', fn: (e: Error) => void): void;
  goto(url: string): Promise<unknown>;
  $$eval<R>(selector: string, fn: (els: El[]) => R): Promise<R>;
}
interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
type Chromium = { launch(o: object): Promise<Browser> };

// .ci/run installs Debian's chromium; playwright-core is a devDependency. Missing either is a
// failure, not a skip: this is the only test that looks at the page as a person would.
import { chromium as playwrightChromium } from 'playwright-core';

const executable = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const chromium = playwrightChromium as unknown as Chromium;

describe('switchyard report in a headless browser', () => {
  it('loads without console errors and renders the three charts', { timeout: 60_000 }, async () => {
    assert.ok(executable, 'chromium is not installed: apt-get install chromium (.ci/run does)');
    const dir = tempDir();
    const dbPath = join(dir, 'r.db');
    const db = new Database(dbPath);
    const sink = new ResultsSink(db);
    const t0 = Date.now();
    const outcomes = ['ok', 'ok', 'ok', 'timeout', 'http_error', 'circuit_open'];
    sink.write(
      Array.from({ length: 600 }, (_, i) => {
        const r: FetchResult = {
          line: i + 1,
          url: `http://h${i % 3}.test/p/${i}`,
          host: `h${i % 3}.test`,
          outcome: outcomes[i % outcomes.length]!,
          status: 200,
          error: null,
          attempts: 1,
          redirects: 0,
          finalUrl: null,
          contentType: 'text/html',
          bytes: 100,
          title: 't',
          links: [],
          textLength: 1,
          sha256: 'x',
          startedAt: t0 + i * 10,
          durationMs: 1 + (i % 50) * 7,
        };
        return { key: i + 1, value: r };
      }),
    );
    db.close();
    const html = join(dir, 'report.html');
    assert.equal(await main([dbPath, '--html', html], captureIo().io), 0);

    const browser = await chromium.launch({
      executablePath: executable,
      headless: true,
      args: ['--no-sandbox'],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(pathToFileURL(html).href);
      const sizes = await page.$$eval('figure svg', (els) =>
        els.map((el) => {
          const box = el.getBoundingClientRect();
          return { id: el.parentElement?.id, width: box.width, height: box.height };
        }),
      );
      assert.deepEqual(
        sizes.map((s) => s.id),
        ['throughput', 'latency', 'hosts'],
      );
      for (const s of sizes) assert.ok(s.width > 100 && s.height > 50, JSON.stringify(s));
      const marks = await page.$$eval(
        '#throughput polyline, #latency rect, #hosts rect',
        (els) => els.filter((el) => el.getBoundingClientRect().width > 0).length,
      );
      assert.ok(marks > 5, `drawn marks: ${marks}`);
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  });
});
