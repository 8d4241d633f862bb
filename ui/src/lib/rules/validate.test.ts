// The same cases as the Rust tests in crates/outpost-core/src/validate.rs, message for message,
// plus the context checks the UI adds.
import { describe, expect, it } from 'vitest';
import type { Account } from '../bindings/Account';
import type { MediaRef } from '../bindings/MediaRef';
import type { Network } from '../bindings/Network';
import type { PostContent } from '../bindings/PostContent';
import { limits, NETWORKS } from './limits';
import { applyAccountDefaults, checkAll, checkContext, optionsFor, rustDebug, validate, validateOptions } from './validate';

const post = (text: string): PostContent => ({ parts: [{ text, media: [] }], variants: {}, first_comment: null, options: {} });
const image = (name: string, bytes: number): MediaRef => ({
  path: `/tmp/${name}`,
  sha256: '0'.repeat(64),
  mime: 'image/png',
  bytes,
  width: 10,
  height: 10,
  alt: null,
});
const errors = (n: Network, c: PostContent) => validate(n, c).map((f) => f.message);
const account = (network: Network, handle: string, extra: Partial<Account> = {}): Account => ({
  id: `a_${handle}`,
  network,
  handle,
  remote_id: null,
  display_name: null,
  status: 'active',
  status_reason: null,
  token_expires_at: null,
  settings: {},
  created_at: '2026-01-01T00:00:00Z',
  ...extra,
});

describe('validate mirrors outpost-core', () => {
  it('limits Bluesky text by graphemes and bytes', () => {
    expect(errors('bluesky', post('a'.repeat(300)))).toEqual([]);
    expect(errors('bluesky', post('a'.repeat(312)))).toEqual([
      'Bluesky: text is 312 characters (graphemes); the limit is 300 — shorten it by 12',
    ]);
    const e = errors('bluesky', post('👨‍👩‍👧‍👦'.repeat(150)));
    expect(e).toHaveLength(1);
    expect(e[0]).toContain('3750 bytes');
  });

  it('checks media count, size and kind per network', () => {
    const c = post('pics');
    c.parts[0]!.media = [0, 1, 2, 3, 4].map((i) => image(`p${i}.png`, 1000));
    expect(errors('bluesky', c)).toEqual(['Bluesky: 5 images attached; Bluesky takes at most 4 — remove 1']);
    c.parts[0]!.media = [image('big.png', 1_500_000)];
    const e = errors('bluesky', c);
    expect(e).toHaveLength(1);
    expect(e[0]).toContain('big.png');
    expect(e[0]).toContain('1000000');
    expect(errors('instagram', post('no media'))).toContain('Instagram: Instagram posts require at least one media file');
    const mixed = post('m');
    mixed.parts[0]!.media = [image('a.png', 10), { ...image('v.mp4', 10), mime: 'video/mp4' }];
    expect(errors('pinterest', mixed)).toContain("Pinterest: Pinterest doesn't support mixing images and videos");
  });

  it('refuses empty posts and threads where unsupported', () => {
    expect(errors('bluesky', post('  '))).toEqual(['Bluesky: the post is empty — write some text or add media']);
    const c = post('one');
    c.parts.push({ text: 'two', media: [] });
    expect(errors('bluesky', c)).toEqual([]);
    expect(errors('linkedin', c)[0]).toContain('does not support threads');
    c.parts[1]!.text = 'a'.repeat(301);
    expect(errors('bluesky', c)[0]?.startsWith('Bluesky: part 2 text is 301')).toBe(true);
  });

  it('applies a variant to its network only', () => {
    const c = post('short');
    c.variants = { x: 'x'.repeat(281) };
    expect(errors('bluesky', c)).toEqual([]);
    expect(errors('x', c)).toEqual(['X: text is 281 weighted characters; the limit is 280 — shorten it by 1']);
  });

  it('has limits for every network', () => {
    for (const n of NETWORKS) expect(limits(n).textMax).toBeGreaterThan(0);
  });
});

describe('context checks', () => {
  it('reports a video that is too long', () => {
    const c = post('clip');
    c.parts[0]!.media = [{ ...image('clip.mp4', 1000), mime: 'video/mp4' }];
    const f = checkContext(c, { accounts: [account('x', 'me')], durations: new Map([['/tmp/clip.mp4', 200]]) });
    expect(f.map((x) => x.message)).toEqual(['X: clip.mp4 is 3:20 long; X takes videos up to 140 s — trim it']);
  });

  it('asks for a Pinterest board, TikTok video, and warns when the daily quota is reached', () => {
    const c = post('pin me');
    const pin = account('pinterest', 'me');
    expect(checkContext(c, { accounts: [pin] }).map((x) => x.message)).toEqual([
      'Pinterest: Pinterest board not selected — choose a board for pinterest:me',
    ]);
    expect(checkContext(c, { accounts: [account('pinterest', 'b', { settings: { board_id: '549755885175' } })] })).toEqual([]);
    expect(checkAll(c, { accounts: [account('tiktok', 'me')] }).map((x) => x.message)).toContain(
      'TikTok: TikTok only supports video content — add a video',
    );
    const q = checkContext(c, {
      accounts: [account('x', 'me')],
      quotas: [{ account: 'x:me', used: 100, max: 100, window_secs: 86400, source: '' }],
    });
    expect(q).toEqual([
      {
        network: 'x',
        severity: 'warning',
        field: 'quota',
        message: 'X: daily quota reached for x:me (100 of 100) — the post will wait until the quota frees up',
      },
    ]);
  });

  it('warns that a first comment is skipped where unsupported', () => {
    const c = { ...post('hi'), first_comment: 'links below' };
    const f = checkContext(c, { accounts: [account('tiktok', 'me'), account('bluesky', 'me.bsky.social')] });
    expect(f.map((x) => x.message)).toEqual([
      'TikTok: first comments are not supported — it will not be posted on TikTok',
      'Bluesky: first comments are not supported — it will not be posted on Bluesky',
    ]);
    const x = checkContext(c, { accounts: [account('x', 'me')] });
    expect(x).toEqual([]);
  });
});

describe('per-target options mirror validate_options', () => {
  const pin = account('pinterest', 'alice');
  const withOptions = (options: PostContent['options']): PostContent => ({ ...post('pin me'), options });
  const found = (c: PostContent, accounts = [pin]) =>
    checkContext(c, { accounts }).map(({ network, severity, field, message }) => ({ network, severity, field, message }));

  it('reports a missing board exactly as the engine', () => {
    expect(found(withOptions({}))).toEqual([
      {
        network: 'pinterest',
        severity: 'error',
        field: 'board',
        message: 'Pinterest: Pinterest board not selected — choose a board for pinterest:alice',
      },
    ]);
    // Blank and non-text values are no board; a number is (the engine reads it as text).
    expect(validateOptions('pinterest', 'pinterest:alice', { board_id: '  ' })).toHaveLength(1);
    expect(validateOptions('pinterest', 'pinterest:alice', { board_id: true })).toHaveLength(1);
    expect(validateOptions('pinterest', 'pinterest:alice', { board_id: 549755885175 })).toEqual([]);
    expect(validateOptions('x', 'x:alice', {})).toEqual([]);
  });

  it('checks the pin title and link with the engine messages', () => {
    const f = validateOptions('pinterest', 'pinterest:alice', {
      board_id: '1',
      title: 't'.repeat(101),
      link: 'ftp://example.com/a "b"',
    });
    expect(f).toEqual([
      {
        network: 'pinterest',
        severity: 'error',
        field: 'title',
        message: 'Pinterest: the pin title is 101 characters; the limit is 100 — shorten it',
      },
      {
        network: 'pinterest',
        severity: 'error',
        field: 'link',
        message: 'Pinterest: the pin link "ftp://example.com/a \\"b\\"" must be an http(s) address of at most 2,048 characters',
      },
    ]);
    // Titles count characters (code points), after trimming; links count bytes.
    expect(validateOptions('pinterest', 'p:a', { board_id: '1', title: ` ${'é'.repeat(100)} ` })).toEqual([]);
    expect(validateOptions('pinterest', 'p:a', { board_id: '1', title: '😀'.repeat(100) })).toEqual([]);
    expect(validateOptions('pinterest', 'p:a', { board_id: '1', link: `https://example.com/${'a'.repeat(2028)}` })).toEqual([]);
    const long = validateOptions('pinterest', 'p:a', { board_id: '1', link: `https://example.com/${'a'.repeat(2029)}` });
    expect(long.map((x) => x.field)).toEqual(['link']);
    expect(validateOptions('pinterest', 'p:a', { board_id: '1', link: 'http://example.com' })).toEqual([]);
  });

  it('quotes like Rust {:?}', () => {
    expect(rustDebug('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(rustDebug('line\nbreak\ttab')).toBe('"line\\nbreak\\ttab"');
    expect(rustDebug('it\'s café')).toBe('"it\'s café"');
    expect(rustDebug('zero\u200bwidth')).toBe('"zero\\u{200b}width"');
  });

  it('lets the address win over the network, and fills the account default board', () => {
    const c = withOptions({ pinterest: { board_id: '1', title: 'Net' }, 'pinterest:alice': { title: 'Mine' } });
    expect(optionsFor(c, 'pinterest', 'pinterest:alice')).toEqual({ board_id: '1', title: 'Mine' });
    expect(optionsFor(c, 'pinterest', 'pinterest:bob')).toEqual({ board_id: '1', title: 'Net' });

    const withDefault = account('pinterest', 'alice', { settings: { board_id: '77' } });
    const filled = applyAccountDefaults(withOptions({}), [withDefault]);
    expect(filled.options).toEqual({ 'pinterest:alice': { board_id: '77' } });
    expect(found(withOptions({}), [withDefault])).toEqual([]);
    // A board the post names is kept; an emptied one is not replaced by the default.
    expect(applyAccountDefaults(withOptions({ 'pinterest:alice': { board_id: '5' } }), [withDefault]).options).toEqual({
      'pinterest:alice': { board_id: '5' },
    });
    expect(found(withOptions({ 'pinterest:alice': { board_id: '' } }), [withDefault]).map((x) => x.field)).toEqual(['board']);
    // Every Pinterest target is checked, each with its own address.
    const bob = account('pinterest', 'bob');
    expect(found(withOptions({ 'pinterest:alice': { board_id: '5' } }), [pin, bob]).map((x) => x.message)).toEqual([
      'Pinterest: Pinterest board not selected — choose a board for pinterest:bob',
    ]);
  });
});
