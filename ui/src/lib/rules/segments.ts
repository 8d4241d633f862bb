//! Splitting post text for previews: links, mentions and hashtags, and the part past a network's
//! limit (shown struck out so the writer sees where the network would cut).

import type { Network } from '../bindings/Network';
import { limits } from './limits';
import { findHashtags, findMentions, findUrls, graphemeList, utf8Bytes } from './text';

export type SegmentKind = 'text' | 'link' | 'mention' | 'tag';
export interface Segment {
  kind: SegmentKind;
  text: string;
  over: boolean;
}

const EMOJI = {
  test(g: string): boolean {
    for (const c of g) {
      const cp = c.codePointAt(0) ?? 0;
      if ((cp >= 0x1f000 && cp <= 0x1faff) || (cp >= 0x2600 && cp <= 0x27bf) || cp === 0xfe0f) return true;
    }
    return false;
  },
};

/** Index (string units) after which `text` is over `network`'s limit, or null when it fits. */
export function overflowIndex(network: Network, text: string): number | null {
  const l = limits(network);
  const urls = l.textCount === 'x_weighted' ? findUrls(text) : [];
  let total = 0;
  let bytes = 0;
  let i = 0;
  for (const g of graphemeList(text)) {
    const inUrl = urls.find((u) => i >= u.start && i < u.end);
    let w: number;
    switch (l.textCount) {
      case 'graphemes':
        w = 1;
        break;
      case 'chars':
        w = [...g].length;
        break;
      case 'utf16':
        w = g.length;
        break;
      case 'threads_emoji_bytes':
        w = EMOJI.test(g) ? utf8Bytes(g) : 1;
        break;
      case 'x_weighted':
        w = inUrl ? (i === inUrl.start ? 23 : 0) : EMOJI.test(g) ? 2 : [...g].reduce((n, c) => n + ((c.codePointAt(0) ?? 0) <= 4351 ? 1 : 2), 0);
        break;
    }
    total += w;
    bytes += utf8Bytes(g);
    if (total > l.textMax || (l.textBytesMax !== null && bytes > l.textBytesMax)) return i;
    i += g.length;
  }
  return null;
}

/** Text split into plain/link/mention/tag runs, each marked when past the limit. */
export function segments(text: string, network: Network | null): Segment[] {
  const spans: Array<{ start: number; end: number; kind: SegmentKind }> = [
    ...findUrls(text).map((s) => ({ ...s, kind: 'link' as const })),
    ...findMentions(text).map(([s]) => ({ ...s, kind: 'mention' as const })),
    ...findHashtags(text).map(([s]) => ({ ...s, kind: 'tag' as const })),
  ].sort((a, b) => a.start - b.start);
  const cut = network ? overflowIndex(network, text) : null;
  const out: Segment[] = [];
  const push = (kind: SegmentKind, start: number, end: number) => {
    if (end <= start) return;
    if (cut !== null && cut > start && cut < end) {
      out.push({ kind, text: text.slice(start, cut), over: false });
      out.push({ kind, text: text.slice(cut, end), over: true });
    } else {
      out.push({ kind, text: text.slice(start, end), over: cut !== null && start >= cut });
    }
  };
  let pos = 0;
  for (const s of spans) {
    if (s.start < pos) continue;
    push('text', pos, s.start);
    push(s.kind, s.start, s.end);
    pos = s.end;
  }
  push('text', pos, text.length);
  return out;
}
