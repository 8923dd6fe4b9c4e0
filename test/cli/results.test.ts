import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { type FetchResult, ResultsSink } from '../../src/cli/results.ts';

function result(line: number, outcome: string): FetchResult {
  return {
    line,
    url: `http://example.test/${line}`,
    host: 'example.test',
    outcome,
    status: 200,
    error: null,
    attempts: 1,
    redirects: 0,
    finalUrl: null,
    contentType: 'text/html',
    bytes: 10,
    title: `page ${line}`,
    links: [`http://example.test/${line + 1}`],
    textLength: 3,
    sha256: null,
    startedAt: 1000.6,
    durationMs: 2.5,
  };
}

describe('ResultsSink', () => {
  it('stores a batch longer than one multi-row statement as one row per key, the later write of a key winning', () => {
    const db = new Database(':memory:');
    const sink = new ResultsSink(db);
    // 75 records = two 32-row statements + 11 single rows; keys 0..29, so every key comes two or
    // three times, twice inside the first statement for keys 0 and 1.
    const batch = Array.from({ length: 75 }, (_, i) => ({
      key: i % 30,
      value: result(i, `o${i}`),
    }));
    sink.writeSync(batch);
    const rows = db
      .prepare('SELECT key, line, outcome, links, link_count, started_at FROM results')
      .all() as {
      key: string;
      line: number;
      outcome: string;
      links: string;
      link_count: number;
      started_at: number;
    }[];
    assert.equal(rows.length, 30);
    for (const row of rows) {
      const k = Number(row.key);
      const last = k < 15 ? k + 60 : k + 30;
      assert.equal(row.line, last, `key ${k}`);
      assert.equal(row.outcome, `o${last}`);
      assert.deepEqual(JSON.parse(row.links), [`http://example.test/${last + 1}`]);
      assert.equal(row.link_count, 1);
      assert.equal(row.started_at, 1001);
    }
    db.close();
  });

  it('a key written again in a later batch is updated, not duplicated', () => {
    const db = new Database(':memory:');
    const sink = new ResultsSink(db);
    sink.writeSync(Array.from({ length: 40 }, (_, i) => ({ key: i, value: result(i, 'network') })));
    sink.writeSync([{ key: 7, value: result(7, 'ok') }]);
    assert.equal((db.prepare('SELECT count(*) AS n FROM results').get() as { n: number }).n, 40);
    assert.equal(
      (db.prepare("SELECT outcome FROM results WHERE key = '7'").get() as { outcome: string })
        .outcome,
      'ok',
    );
    db.close();
  });
});
