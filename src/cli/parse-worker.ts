/**
 * The CPU lane of `fetch`: runs on a ThreadPool worker. Parses one HTML body with htmlparser2's
 * streaming parser (no DOM is built) and hashes it. Imports nothing that starts threads.
 */
import crypto from 'node:crypto';
import { Parser } from 'htmlparser2';

export interface PageFacts {
  title: string | null;
  /** Absolute http(s) links, in document order, deduplicated, at most `MAX_LINKS`. */
  links: string[];
  /** Characters of visible text (script/style excluded, whitespace runs counted as one). */
  textLength: number;
  /** Hex sha256 of the raw body bytes. */
  sha256: string;
}

export const MAX_LINKS = 1000;

/**
 * One-shot `crypto.hash` (Node ≥ 20.12) where there is one: ~1.6 µs a 2 KB page against ~2.7
 * for createHash → update → digest; `engines` allows any Node 20, hence the fallback.
 */
const oneShot = (
  crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'hex') => string }
).hash;
const sha256Hex = (body: Uint8Array): string =>
  oneShot !== undefined
    ? oneShot('sha256', body, 'hex')
    : crypto.createHash('sha256').update(body).digest('hex');

export function parse(body: Uint8Array, baseUrl: string, isHtml = true): PageFacts {
  const sha256 = sha256Hex(body);
  if (!isHtml) return { title: null, links: [], textLength: 0, sha256 };
  let title: string | null = null;
  let inTitle = false;
  let skip = 0;
  let textLength = 0;
  let lastWasSpace = true;
  const links = new Set<string>();
  let base: URL | undefined;
  try {
    base = new URL(baseUrl);
  } catch {
    base = undefined;
  }
  // Root-relative links are `origin + href`, unless the base has credentials (kept by `new URL`).
  const origin =
    base !== undefined &&
    (base.protocol === 'http:' || base.protocol === 'https:') &&
    base.username === '' &&
    base.password === ''
      ? base.origin
      : undefined;
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        if (name === 'script' || name === 'style' || name === 'noscript') skip++;
        else if (name === 'title' && title === null) {
          inTitle = true;
          title = '';
        } else if (name === 'a' && attributes.href !== undefined && links.size < MAX_LINKS) {
          const link = resolveLink(attributes.href, base, origin);
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

/**
 * `href` resolved against `base`, fragment removed; undefined unless it is an http(s) URL.
 * `new URL(href, base)` serializes and re-parses the base on every call, so the two common
 * forms skip it: `http(s)://…` (the base plays no part) and a path from the root, `/…` (the
 * same as `origin + href`; not `//…` or `/\…`, which name another host). The results are
 * those of `new URL(href, base)` (test/cli/parse-batch.test.ts compares them).
 */
function resolveLink(href: string, base: URL | undefined, origin: string | undefined) {
  let url: URL;
  try {
    if (/^https?:\/\//i.test(href)) url = new URL(href);
    else if (
      origin !== undefined &&
      href.charCodeAt(0) === 47 /* / */ &&
      href.charCodeAt(1) !== 47 &&
      href.charCodeAt(1) !== 92 /* \ */
    ) {
      url = new URL(origin + href);
    } else url = new URL(href, base);
  } catch {
    return undefined; // an unreadable href is not a link
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  // The fragment is the serialization's last part and its first '#': cutting there is
  // `url.hash = ''` without the setter's re-serialization.
  const text = url.href;
  const hash = text.indexOf('#');
  return hash === -1 ? text : text.slice(0, hash);
}

/**
 * A batch of pages in one task (see parse-batch.ts): `bodies` holds them back to back, page `i`
 * ending at `ends[i]`. A page whose parse throws gets `{ error }`; the others are unaffected.
 */
export function parseMany(
  bodies: ArrayBuffer,
  ends: number[],
  baseUrls: string[],
  html: boolean[],
): (PageFacts | { error: string })[] {
  const out: (PageFacts | { error: string })[] = [];
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i]!;
    try {
      out.push(parse(new Uint8Array(bodies, start, end - start), baseUrls[i]!, html[i] ?? true));
    } catch (error) {
      out.push({ error: error instanceof Error ? error.message : String(error) });
    }
    start = end;
  }
  return out;
}
