//! Counting text the way each network counts it — a line-for-line mirror of
//! `crates/outpost-core/src/text.rs`, so the live counter in Compose agrees with the engine.
//! Offsets here are JavaScript string indices (UTF-16 units), not the UTF-8 byte offsets the
//! Rust side returns; only the counts must agree, and they do.

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const encoder = new TextEncoder();

/** Extended grapheme clusters (what a person sees as one character). */
export function graphemeList(text: string): string[] {
  const out: string[] = [];
  for (const s of segmenter.segment(text)) out.push(s.segment);
  return out;
}

export function graphemes(text: string): number {
  let n = 0;
  for (const _ of segmenter.segment(text)) n++;
  return n;
}

export function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

/** Plain Unicode scalar values (what most networks mean by "characters"). */
export function chars(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** UTF-16 code units (TikTok). */
export function utf16Units(text: string): number {
  return text.length;
}

function isEmojiCp(cp: number): boolean {
  return (cp >= 0x1f000 && cp <= 0x1faff) || (cp >= 0x2600 && cp <= 0x27bf) || cp === 0xfe0f;
}

function hasEmoji(g: string): boolean {
  for (const c of g) if (isEmojiCp(c.codePointAt(0) ?? 0)) return true;
  return false;
}

function weighX(s: string): number {
  let total = 0;
  for (const g of graphemeList(s)) {
    // An emoji sequence (one grapheme with an emoji in it) counts 2 however many code points it has.
    if (hasEmoji(g)) {
      total += 2;
      continue;
    }
    for (const c of g) {
      const cp = c.codePointAt(0) ?? 0;
      const light =
        cp <= 4351 ||
        (cp >= 8192 && cp <= 8205) ||
        (cp >= 8208 && cp <= 8223) ||
        (cp >= 8242 && cp <= 8247);
      total += light ? 1 : 2;
    }
  }
  return total;
}

/** X's weighted length: NFC, each URL counts 23, light ranges 1, everything else 2. */
export function xWeightedLength(text: string): number {
  const nfc = text.normalize('NFC');
  let total = 0;
  let last = 0;
  for (const span of findUrls(nfc)) {
    total += weighX(nfc.slice(last, span.start)) + 23;
    last = span.end;
  }
  return total + weighX(nfc.slice(last));
}

/** Threads' count: characters, except that each emoji counts its UTF-8 bytes. */
export function threadsLength(text: string): number {
  let total = 0;
  for (const g of graphemeList(text)) total += hasEmoji(g) ? utf8Bytes(g) : 1;
  return total;
}

export interface Span {
  start: number;
  end: number;
}

const ALNUM = /[\p{Alphabetic}\p{N}]/u;
const WHITESPACE = /\p{White_Space}/u;

/** The code point that ends just before `index`, or null at the start. */
function charBefore(text: string, index: number): string | null {
  if (index <= 0) return null;
  const lo = text.charCodeAt(index - 1);
  if (lo >= 0xdc00 && lo <= 0xdfff && index >= 2) {
    const hi = text.charCodeAt(index - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return text.slice(index - 2, index);
  }
  return text.slice(index - 1, index);
}

/** http(s) URLs, without trailing punctuation that usually ends a sentence. */
export function findUrls(text: string): Span[] {
  const out: Span[] = [];
  let from = 0;
  for (;;) {
    const start = text.indexOf('http', from);
    if (start < 0) break;
    const rest = text.slice(start);
    let schemeLen: number;
    if (rest.startsWith('https://')) schemeLen = 8;
    else if (rest.startsWith('http://')) schemeLen = 7;
    else {
      from = start + 4;
      continue;
    }
    const before = charBefore(text, start);
    const precededOk = before === null || !ALNUM.test(before);
    let stop = rest.length;
    let i = 0;
    for (const c of rest) {
      if (WHITESPACE.test(c) || c === '<' || c === '>' || c === '"') {
        stop = i;
        break;
      }
      i += c.length;
    }
    let end = start + stop;
    while (end > start + schemeLen) {
      const last = charBefore(text, end) ?? ' ';
      const unbalancedParen = last === ')' && !text.slice(start, end).includes('(');
      if (".,;:!?'".includes(last) || unbalancedParen) end -= last.length;
      else break;
    }
    const host = text.slice(start + schemeLen, Math.max(end, start + schemeLen));
    // The Rust side compares byte lengths; so do we.
    if (precededOk && utf8Bytes(host) > 2 && host.includes('.')) out.push({ start, end });
    from = Math.max(end, start + schemeLen);
  }
  return out;
}

/** `@handle.domain` mentions: the span covers the `@`; the handle is returned lower-cased. */
export function findMentions(text: string): Array<[Span, string]> {
  const out: Array<[Span, string]> = [];
  for (let i = text.indexOf('@'); i >= 0; i = text.indexOf('@', i + 1)) {
    const p = charBefore(text, i);
    if (p !== null && (ALNUM.test(p) || p === '@')) continue;
    const m = /^[A-Za-z0-9.-]*/.exec(text.slice(i + 1));
    const handle = (m?.[0] ?? '').replace(/[.-]+$/, '');
    const labels = handle.split('.');
    const tld = labels[labels.length - 1] ?? '';
    const valid =
      labels.length >= 2 &&
      labels.every((l) => l.length > 0 && l.length <= 63) &&
      /^[A-Za-z]/.test(tld);
    if (valid) out.push([{ start: i, end: i + 1 + handle.length }, handle.toLowerCase()]);
  }
  return out;
}

const ASCII_PUNCT = /[!-/:-@[-`{-~]/;

/** `#hashtags`: purely numeric tags are not tags; trailing punctuation is not part of the tag. */
export function findHashtags(text: string): Array<[Span, string]> {
  const out: Array<[Span, string]> = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '#' && c !== '＃') continue;
    const p = charBefore(text, i);
    if (p !== null && !WHITESPACE.test(p)) continue;
    const bodyStart = i + 1;
    let len = 0;
    for (const ch of text.slice(bodyStart)) {
      if (WHITESPACE.test(ch) || (ASCII_PUNCT.test(ch) && ch !== '_' && ch !== '-')) break;
      len += ch.length;
    }
    const tag = text.slice(bodyStart, bodyStart + len);
    if (tag.length === 0 || /^[0-9]+$/.test(tag) || graphemes(tag) > 64) continue;
    out.push([{ start: i, end: bodyStart + len }, tag]);
  }
  return out;
}
