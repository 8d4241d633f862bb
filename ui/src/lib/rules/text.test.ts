// The same examples as the Rust tests in crates/outpost-core/src/text.rs: the live counter must
// agree with the engine to the unit.
import { describe, expect, it } from 'vitest';
import {
  findHashtags,
  findMentions,
  findUrls,
  graphemes,
  threadsLength,
  utf16Units,
  utf8Bytes,
  xWeightedLength,
} from './text';

describe('text counting mirrors outpost-core', () => {
  it('Bluesky counts graphemes and bytes', () => {
    const family = '👨‍👩‍👧‍👦';
    expect(graphemes(family)).toBe(1);
    expect(utf8Bytes(family)).toBe(25);
    expect(graphemes('héllo')).toBe(5);
  });

  it('X weighs URLs, CJK and emoji', () => {
    expect(xWeightedLength('hello')).toBe(5);
    expect(xWeightedLength('see https://example.com/a/very/long/path/indeed')).toBe(4 + 23);
    expect(xWeightedLength('日本')).toBe(4);
    expect(xWeightedLength('👍')).toBe(2);
    expect(xWeightedLength('👨‍👩‍👧‍👦'), 'an emoji sequence counts once').toBe(2);
    expect(xWeightedLength('e\u0301'), 'NFC first').toBe(1);
  });

  it('Threads counts emoji by bytes', () => {
    expect(threadsLength('hi')).toBe(2);
    expect(threadsLength('hi👍')).toBe(6);
  });

  it('TikTok counts UTF-16 units', () => {
    expect(utf16Units('hi👍')).toBe(4);
  });

  it('finds URLs without trailing punctuation', () => {
    const t = 'Read (https://example.com/x) and http://a.io. Done';
    expect(findUrls(t).map((s) => t.slice(s.start, s.end))).toEqual(['https://example.com/x', 'http://a.io']);
    const u = 'héllo https://é.example/ü';
    const s = findUrls(u)[0];
    expect(s && u.slice(s.start, s.end)).toBe('https://é.example/ü');
    expect(findUrls('nohttps://x.y')).toEqual([]);
  });

  it('finds mentions and hashtags', () => {
    const t = 'hi @alice.bsky.social and @bob. #rust #2026 #1 mail a@b.com (#tag)';
    expect(findMentions(t).map(([, h]) => h)).toEqual(['alice.bsky.social']);
    expect(findHashtags(t).map(([, h]) => h), 'numeric-only and mid-word tags are not tags').toEqual(['rust']);
    const [span] = findHashtags('é #über')[0] ?? [];
    expect(span && 'é #über'.slice(span.start, span.end)).toBe('#über');
  });
});
