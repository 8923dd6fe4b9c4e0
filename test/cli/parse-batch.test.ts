import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Parser } from 'htmlparser2';
import { ParseBatcher, type ParseMany } from '../../src/cli/parse-batch.ts';
import { MAX_LINKS, type PageFacts, parse, parseMany } from '../../src/cli/parse-worker.ts';

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

/** `text` as a double-quoted attribute value. */
const attr = (text: string) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

describe('parse: links', () => {
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
    '/\t/tab-host/x',
    '/\n\\newline-host/x',
    '/a%2Fb',
    '',
  ];
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

/**
 * parse() as it was before the fast paths (a Parser per page, attributes from onopentag, every
 * link through `new URL`): the oracle the property tests hold the current one to.
 */
function referenceParse(body: Uint8Array, baseUrl: string, isHtml = true): PageFacts {
  const sha256 = crypto.createHash('sha256').update(body).digest('hex');
  if (!isHtml) return { title: null, links: [], textLength: 0, sha256 };
  let title: string | null = null;
  let inTitle = false;
  let skip = 0;
  let textLength = 0;
  let lastWasSpace = true;
  const links = new Set<string>();
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        if (name === 'script' || name === 'style' || name === 'noscript') skip++;
        else if (name === 'title' && title === null) {
          inTitle = true;
          title = '';
        } else if (name === 'a' && attributes.href !== undefined && links.size < MAX_LINKS) {
          const [link] = reference([attributes.href], baseUrl);
          if (link !== undefined) links.add(link);
        }
      },
      ontext(text) {
        if (inTitle) title += text;
        if (skip > 0) return;
        for (let i = 0; i < text.length; i++) {
          const c = text.charCodeAt(i);
          const space = c === 32 || c === 10 || c === 13 || c === 9 || c === 12;
          if (!space) textLength++;
          else if (!lastWasSpace) textLength++;
          lastWasSpace = space;
        }
      },
      onclosetag(name) {
        if (name === 'script' || name === 'style' || name === 'noscript')
          skip = Math.max(0, skip - 1);
        else if (name === 'title') inTitle = false;
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  return {
    title: title === null ? null : (title as string).replace(/\s+/g, ' ').trim().slice(0, 1000),
    links: [...links],
    textLength,
    sha256,
  };
}

/** Pieces of hrefs: what the URL parser escapes, drops, rewrites or stops at, and plain text. */
const hrefPiece = fc.constantFrom(
  ...['/', '/', '/', '.', '..', '/.', '/..', '%', '%2e', '%2E', '%2F', '%zz', '\\', '#', '?', '&'],
  ...[' ', '\t', '\n', '\r', '\f', '\u0000', '\u007f', 'ä', '😀', '\u00a0', 'A', 'Z', 'a', 'z'],
  ...['0', '9', '-', '_', '~', '!', '$', "'", '(', ')', '*', '+', ',', ';', '=', ':', '@', '"'],
  ...['<', '>', '`', '{', '}', '|', '^', '[', ']', 'page', 'x.html', 'q=1', 'http:', 'https:'],
  ...['//', 'HTTP://H.Example', 'https://h.example:443', 'mailto:', 'javascript:', 'ftp://f'],
);
const href = fc
  .tuple(
    fc.constantFrom('/', '/', '/', '', 'http://h.example/', 'h', ' /', '//'),
    fc.array(hrefPiece, { maxLength: 8 }),
  )
  .map(([start, pieces]) => start + pieces.join(''));

/** Pieces of base URLs that share an authority: consecutive pages exercise the origin cache. */
const baseUrl = fc
  .tuple(
    fc.constantFrom('http:', 'https:', 'HTTP:', 'ftp:', 'http:/', 'file:'),
    fc.constantFrom('//h.example', '//H.Example', '//u:p@h.example', '//u@h.example', '//:p@h'),
    fc.constantFrom('', ':80', ':0080', ':443', ':8443', ':99999', ':x', '.', ' x', '%41'),
    fc.constantFrom('', '/', '/p/q', '\\p', '?q', '#f', ' ', '\t', '/x ', ' /x', '/a b/c'),
  )
  .map((parts) => parts.join(''));
const bases = fc.oneof(
  baseUrl,
  fc.constantFrom('not a url', 'http://127.1/p', 'http://[::1]/', 'http://bücher.example/'),
);

const textPiece = fc.constantFrom(
  ...['word', 'Wörd', ' ', ' ', '  ', '\t', '\n', '\r\n', '\f', '\v', '\u00a0', '😀', '<', '>'],
  ...['&amp;', '&#x41;', '&#32;', '&nbsp;', '&lt;', '&', '&am', '&#', '&#x20', '&notit;'],
);
const tag = fc.oneof(
  href.map((h) => `<a href="${attr(h)}">`),
  href.map((h) => `<A HREF='${h.replace(/'/g, '&#39;')}'>`),
  href.map((h) => `<a href=${h}>`),
  href.map((h) => `<a href="${h}">`),
  fc.tuple(href, href).map(([h, g]) => `<a href="${attr(h)}" HREF="${attr(g)}">`),
  fc.tuple(href, href).map(([h, g]) => `<a title="t" href="${attr(h)}"/><a href='${attr(g)}'>`),
  fc.constantFrom(
    ...['<a>', '<a href>', '<a hrefx="/no">', '</a>', '<title>', '<TITLE>', '</title>'],
    ...['<svg>', '</svg>', '<svg><title>', '<math>', '</math>', '<foreignObject>', '<p>'],
    ...['</p>', '<br>', '</br>', '<br/>', '<script>', '</script>', '<style>', '</style>'],
    ...['<noscript>', '</noscript>', '<textarea>', '</textarea>', '<form>', '</form>'],
    ...['<div>', '</div>', '<table>', '<td>', '<li>', '</x>', '</>', '<!-- c -->', '<!--'],
    ...['<!doctype html>', '<![CDATA[ c ]]>', '<?xml ?>', '<', '</', '<a href="/open'],
    ...['<a href=/open', '<a href="/x" ', '<script src=x />', '<a href="/x"></zzz'],
    ...['<form href="/f">', '<a><form href="/f">', '<a href="/x>y" hidden href=/z>'],
  ),
);
const doc = fc
  .array(fc.oneof({ weight: 2, arbitrary: tag }, { weight: 3, arbitrary: textPiece }), {
    maxLength: 40,
  })
  .map((pieces) => pieces.join(''));

/** Bases that share their host but differ where the URL parser strips, drops or fails. */
const sameHost = fc.constantFrom(
  ...['http://h.example', 'http://h.example/', 'http://h.example ', 'http://h.example /p'],
  ...['http://h.example\t/p', 'http://h.example/p ', 'http://h.example\\p', 'http://h.example?q'],
  ...['http://h.example#f', 'http://h.example:80/', 'http://h.example:x/', 'http://u@h.example/'],
  ...['https://h.example/', 'HTTP://h.example/', 'http://h.example%20/', 'http://h.example.:1/'],
);

describe('parse: properties', () => {
  it('gives the facts referenceParse gives on documents that end or nest oddly', () => {
    const docs = [
      '<form><a><form href="/f">x',
      '<form><a href="/a"><form href="/f" href="/g">',
      '</p><form><form href=/f>',
      '<title',
      '<title>t</title><title',
      '<a href="/x"',
      '<a href="/x" title="y>z',
      '<a href="/x"></zzz',
      '<a href="/x"><!-- c',
      '<svg><title/>t</svg><title>real</title>',
      '<svg><title>svg title</title></svg>',
      '<svg><a href="/svg-a"/></svg><a href="/b/"/>',
      '<math><a href="/m"/><title>m</title></math>',
      '<a/><a href=/b/>x</br>y<br/>z',
      '<title>a</title><title>b</title>',
      '<script>x<a href="/no"></script><a href="/yes">',
      '<noscript><a href="/ns">n</a></noscript>',
      '<textarea><a href="/t"></textarea><style>a</style >x',
      '<a href="/1" href="/2" HREF="/3"><A HREF="/4" href="/5">',
      '<a href>e</a><a hrefx="/n" href="/h">',
      '  a  &nbsp; &#32; b\t\n\f\r\v c&amp;&#x41;  ',
      '<p>a</p> <p> b </p><script> </script> c <style>  </style>  d',
    ];
    for (const base of ['http://h.example/p', 'https://u:p@h.example/', 'not a url']) {
      for (const doc of docs) {
        const body = Buffer.from(doc);
        assert.deepEqual(parse(body, base), referenceParse(body, base), `${doc} on ${base}`);
      }
    }
  });

  it('gives the facts referenceParse gives, page after page', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ doc, base: bases, isHtml: fc.constantFrom(true, true, true, false) }),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        (pages) => {
          for (const { doc, base, isHtml } of pages) {
            const body = Buffer.from(doc);
            assert.deepEqual(parse(body, base, isHtml), referenceParse(body, base, isHtml));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('resolves every href as new URL(href, base) does', () => {
    fc.assert(
      fc.property(fc.array(href, { minLength: 1, maxLength: 5 }), bases, (hrefs, base) => {
        const body = Buffer.from(hrefs.map((h) => `<a href="${attr(h)}">l</a>`).join(''));
        assert.deepEqual(parse(body, base).links, reference(hrefs, base));
      }),
      { numRuns: 2000 },
    );
  });

  it('resolves root-relative hrefs as new URL does, page after page on one host', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(sameHost, href), { minLength: 2, maxLength: 6 }), (pages) => {
        for (const [base, h] of pages) {
          const body = Buffer.from(`<a href="${attr(h)}">l</a><a href="/p">p</a>`);
          assert.deepEqual(parse(body, base).links, reference([h, '/p'], base), base);
        }
      }),
      { numRuns: 500 },
    );
  });
});
