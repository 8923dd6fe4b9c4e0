import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParseBatcher, type ParseMany } from '../../src/cli/parse-batch.ts';
import { parse, parseMany } from '../../src/cli/parse-worker.ts';

const html = (n: number) => Buffer.from(`<title>P${n}</title><a href="/x/${n}">x</a>`);

/** The real parseMany, run in-process, recording each call's page count. */
function recorder() {
  const calls: number[] = [];
  const run: ParseMany = async (bodies, ends, urls, isHtml) => {
    calls.push(ends.length);
    return parseMany(bodies, ends, urls, isHtml);
  };
  return { calls, run };
}

describe('ParseBatcher', () => {
  it('sends the pages of one loop turn as one task, each page getting its own facts', async () => {
    const { calls, run } = recorder();
    const batcher = new ParseBatcher(run);
    const signal = new AbortController().signal;
    const facts = await Promise.all(
      Array.from({ length: 10 }, (_, i) => batcher.parse(html(i), `http://h/p/${i}`, true, signal)),
    );
    assert.deepEqual(calls, [10]);
    assert.deepEqual(
      facts.map((f) => [f.title, f.links]),
      Array.from({ length: 10 }, (_, i) => [`P${i}`, [`http://h/x/${i}`]]),
    );
    assert.equal(facts[3]!.sha256, parse(html(3), 'http://h/p/3').sha256);
  });

  it('splits at maxPages and maxBytes', async () => {
    const { calls, run } = recorder();
    const batcher = new ParseBatcher(run, { maxPages: 4, maxBytes: 1024 * 1024 });
    const signal = new AbortController().signal;
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => batcher.parse(html(i), 'http://h/', true, signal)),
    );
    assert.deepEqual(calls, [4, 4, 2]);
    const bytes = recorder();
    const big = new ParseBatcher(bytes.run, { maxBytes: 100 });
    const page = Buffer.alloc(60, 'a');
    await Promise.all([1, 2, 3].map(() => big.parse(page, 'http://h/', false, signal)));
    assert.deepEqual(bytes.calls, [2, 1]);
  });

  it('rejects only the page whose parse failed', async () => {
    const run: ParseMany = async (_bodies, ends) =>
      ends.map((_, i) => (i === 1 ? { error: 'bad page' } : parse(html(i), 'http://h/')));
    const batcher = new ParseBatcher(run);
    const signal = new AbortController().signal;
    const results = await Promise.allSettled(
      [0, 1, 2].map((i) => batcher.parse(html(i), 'http://h/', true, signal)),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal((results[1] as PromiseRejectedResult).reason.message, 'bad page');
  });

  it('rejects with the signal reason, and never sends a batch whose signal aborted', async () => {
    const { calls, run } = recorder();
    const batcher = new ParseBatcher(run);
    const controller = new AbortController();
    const reason = new Error('hard stop');
    const pending = batcher.parse(html(1), 'http://h/', true, controller.signal);
    controller.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
    await assert.rejects(
      batcher.parse(html(2), 'http://h/', true, controller.signal),
      (e) => e === reason,
    );
    assert.deepEqual(calls, []);
  });

  it('a failed task rejects every page of its batch', async () => {
    const boom = new Error('worker crashed');
    const batcher = new ParseBatcher(async () => {
      throw boom;
    });
    const signal = new AbortController().signal;
    const results = await Promise.allSettled(
      [1, 2].map((i) => batcher.parse(html(i), 'http://h/', true, signal)),
    );
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason === boom));
  });
});

describe('parse: links', () => {
  /** The plain resolution parse() must agree with: new URL(href, base), fragment removed. */
  function reference(hrefs: string[], baseUrl: string): string[] {
    const out = new Set<string>();
    let base: URL | undefined;
    try {
      base = new URL(baseUrl);
    } catch {
      base = undefined;
    }
    for (const href of hrefs) {
      try {
        const url = new URL(href, base);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
        url.hash = '';
        out.add(url.href);
      } catch {}
    }
    return [...out];
  }
  const hrefs = [
    '/a/b',
    '/a/../b',
    '/a b',
    '/%zz',
    '/ä?ö=1',
    '//other.example/x',
    '/\\other.example/x',
    '/x#frag',
    '/x?q=1#f',
    '/x#',
    '#only',
    '?q=2',
    'rel/path',
    '../up',
    'http://H.Example/A#b',
    'HTTPS://x.example',
    'http:scheme-relative',
    'https:other-scheme',
    'https://bücher.example/p',
    'http://[::1]:80/v6',
    'http://exa mple/',
    'mailto:x@example.org',
    'javascript:void(0)',
    ' /leading-space',
    '\t/tab',
    '/new\nline',
    '/a%2Fb',
    '',
  ];
  const attr = (text: string) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  const page = Buffer.from(hrefs.map((h) => `<a href="${attr(h)}">l</a>`).join(''));
  for (const baseUrl of [
    'https://base.example:8443/dir/page?x=1#top',
    'http://127.0.0.1:80/p',
    'http://user:pw@host.example/p/q',
    'not a url',
  ]) {
    it(`resolves every kind of href as new URL(href, base) does, base ${baseUrl}`, () => {
      assert.deepEqual(parse(page, baseUrl).links, reference(hrefs, baseUrl));
    });
  }
});
