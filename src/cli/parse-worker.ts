/**
 * The CPU lane of `fetch`: runs on a ThreadPool worker. Parses one HTML body with htmlparser2's
 * streaming parser (no DOM is built) and hashes it. Imports nothing that starts threads.
 */
import crypto from 'node:crypto';
import { type Handler, Parser } from 'htmlparser2';

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
  // `new URL(baseUrl)` only if a link needs it: most resolve from the origin alone.
  let base: URL | undefined | null = null;
  const baseOf = () => {
    if (base === null) base = urlOrUndefined(baseUrl);
    return base;
  };
  const origin = originOf(baseUrl, baseOf);
  /** The open tag being read, from its name to its end; '' between tags. */
  let openTag = '';
  /** Its first href (Parser's attributes keep a name's first value, names lowercased). */
  let href: string | undefined;
  const parser = new PageParser(
    {
      onopentagname(name) {
        openTag = name;
        href = undefined;
      },
      onattribute(name, value) {
        if (name === 'href' && openTag === 'a' && href === undefined) href = value;
      },
      ontext(text) {
        if (inTitle) title += text;
        if (skip > 0 || text.length === 0) return;
        // Every character counts but the second and later of a whitespace run (and the first
        // too when the run goes on from the text before). A regex finds the runs ~8× faster
        // than a loop over charCodeAt.
        let length = text.length;
        spaceRuns.lastIndex = 0;
        for (let run = spaceRuns.exec(text); run !== null; run = spaceRuns.exec(text))
          length -= run[0].length - 1;
        if (lastWasSpace && isSpace(text.charCodeAt(0))) length--;
        textLength += length;
        lastWasSpace = isSpace(text.charCodeAt(text.length - 1));
      },
      onclosetag(name) {
        if (name === 'script' || name === 'style' || name === 'noscript')
          skip = Math.max(0, skip - 1);
        else if (name === 'title') inTitle = false;
      },
    },
    () => {
      const name = openTag;
      // Cleared: a second `<form>` (ignored: no onopentagname) also ends here, and `<x/>` ends
      // twice when onselfclosingtag goes on to onopentagend.
      openTag = '';
      if (name === 'a') {
        if (href !== undefined && links.size < MAX_LINKS) {
          const link = resolveLink(href, origin, baseOf);
          if (link !== undefined) links.add(link);
        }
      } else if (name === 'script' || name === 'style' || name === 'noscript') skip++;
      else if (name === 'title' && title === null) {
        inTitle = true;
        title = '';
      }
    },
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
 * A Parser that calls `onOpenTagEnd` where it would call `onopentag`, which stays unset: with
 * it, Parser builds an attributes object for every tag (~1.5 µs a page). Every open tag ends in
 * one of these two (Parser calls `onopentag` from there; the implied `<p>` of a stray `</p>` and
 * `<br>` of `</br>` aside); a tag cut off by the end of the input reaches neither.
 */
class PageParser extends Parser {
  private readonly onOpenTagEnd: () => void;
  constructor(cbs: Partial<Handler>, onOpenTagEnd: () => void) {
    super(cbs, { decodeEntities: true, lowerCaseTags: true });
    this.onOpenTagEnd = onOpenTagEnd;
  }
  override onopentagend(endIndex: number): void {
    this.onOpenTagEnd();
    super.onopentagend(endIndex);
  }
  override onselfclosingtag(endIndex: number): void {
    this.onOpenTagEnd();
    super.onselfclosingtag(endIndex);
  }
}

/** Two or more whitespace characters (HTML's: space, tab, LF, FF, CR). */
const spaceRuns = /[\t\n\f\r ]{2,}/g;
const isSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9 || c === 12;

/**
 * The scheme and authority of an http(s) URL, when the origin depends on them alone: the rest
 * starts at a `/`, `\`, `?` or `#` (where the authority ends) and cannot make the URL fail, and
 * there is no whitespace or control character that the URL parser would strip or drop.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: they are what it must not contain
const authority = /^https?:\/\/[^/\\?#\x00-\x20]+(?=[/\\?#]|$)/;
/** The last page's authority and its origin: a thread's pages mostly share their host. */
let lastAuthority: string | undefined;
let lastOrigin: string | undefined;

/**
 * The base's origin, for resolving root-relative links as `origin + href`; undefined unless the
 * base is an http(s) URL without credentials (which `new URL` would keep).
 */
function originOf(baseUrl: string, base: () => URL | undefined): string | undefined {
  const match = authority.exec(baseUrl);
  if (match !== null && match[0] === lastAuthority) return lastOrigin;
  const url = base();
  const origin =
    url !== undefined &&
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.username === '' &&
    url.password === ''
      ? url.origin
      : undefined;
  lastAuthority = match === null ? undefined : match[0];
  lastOrigin = origin;
  return origin;
}

function urlOrUndefined(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/**
 * A root-relative href (`/…`, not `//` or `/\`) up to its fragment, if `new URL` would keep it
 * byte for byte: only characters that no part of a path or query escapes or rewrites, and no
 * segment starting with `.` (so no `.` or `..` to remove). test/cli/parse-batch.test.ts checks
 * it against `new URL`.
 */
const verbatimPath = /^\/(?![/\\.])(?:[\w\-~!$&()*+,;=:@?.]|\/(?!\.))*(?:#|$)/;

/**
 * `href` resolved against `base`, fragment removed; undefined unless it is an http(s)
 * URL. `new URL(href, base)` serializes and re-parses the base on every call, so the common forms
 * skip it: a root-relative path that `new URL` would keep as it is (`origin + href`, see
 * verbatimPath), another `/…` (`new URL(origin + href)`; not `//…` or `/\…`, which name another
 * host), `http(s)://…` (the base plays no part) and another scheme (never http(s), whatever the
 * base). The results are those of `new URL(href, base)` (test/cli/parse-batch.test.ts compares).
 */
function resolveLink(
  href: string,
  origin: string | undefined,
  base: () => URL | undefined,
): string | undefined {
  const slash = href.charCodeAt(0) === 47; /* / */
  if (slash && origin !== undefined) {
    const path = verbatimPath.exec(href);
    if (path !== null) {
      const kept = path[0];
      return origin + (kept.charCodeAt(kept.length - 1) === 35 /* # */ ? kept.slice(0, -1) : kept);
    }
  }
  let url: URL;
  try {
    if (/^https?:\/\//i.test(href)) url = new URL(href);
    else if (slash && origin !== undefined && !startsAnother(href.charCodeAt(1))) {
      url = new URL(origin + href);
    } else if (otherScheme.test(href)) return undefined;
    else url = new URL(href, base());
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
 * Whether a `/` followed by `c` may start `//host` (`/\host` too): `c` is `/` or `\`, or a tab or
 * newline, which the URL parser drops before it looks (`/\t/x` names the host x).
 */
const startsAnother = (c: number) => c === 47 || c === 92 || c === 9 || c === 10 || c === 13;

/**
 * A scheme other than http(s): the URL parser reads one wherever an href starts with a letter
 * and goes on with letters, digits, `+`, `-` or `.` up to a `:`, and keeps it, base or not.
 */
const otherScheme = /^(?!https?:)[a-z][a-z0-9+\-.]*:/i;

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
