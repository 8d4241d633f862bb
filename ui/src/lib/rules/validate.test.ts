// The same cases as the Rust tests in crates/outpost-core/src/validate.rs, message for message,
// plus the context checks the UI adds.
import { describe, expect, it } from 'vitest';
import type { Account } from '../bindings/Account';
import type { MediaRef } from '../bindings/MediaRef';
import type { Network } from '../bindings/Network';
import type { PostContent } from '../bindings/PostContent';
import { limits, NETWORKS } from './limits';
import {
  applyAccountDefaults,
  checkAll,
  checkContext,
  creatorInfoOf,
  derivedYoutubeTitle,
  humanMs,
  optionsFor,
  rustDebug,
  splitTags,
  tagsLength,
  validate,
  validateOptions,
} from './validate';

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
      'TikTok: choose who can watch this video for tiktok:me',
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

describe('TikTok, YouTube and Facebook options', () => {
  const tiktok = account('tiktok', 'me');
  const video = (name: string): MediaRef => ({ ...image(name, 5_000_000), mime: 'video/mp4', width: 1080, height: 1920 });
  const clip = (options: PostContent['options'] = {}): PostContent => ({
    ...post('a clip'),
    parts: [{ text: 'a clip', media: [video('long.mp4')] }],
    options,
  });
  const messages = (network: Network, options: Record<string, unknown>, address = `${network}:me`) =>
    validateOptions(network, address, options).map((f) => `${f.field}: ${f.message}`);

  it('asks TikTok for an explicit privacy level, except for the inbox', () => {
    expect(messages('tiktok', {})).toEqual(['privacy_level: TikTok: choose who can watch this video for tiktok:me']);
    expect(messages('tiktok', { privacy_level: '  ' })).toEqual(['privacy_level: TikTok: choose who can watch this video for tiktok:me']);
    expect(messages('tiktok', { privacy_level: 'SELF_ONLY' })).toEqual([]);
    // The engine upper-cases it.
    expect(messages('tiktok', { privacy_level: 'public_to_everyone', mode: 'Direct' })).toEqual([]);
    expect(messages('tiktok', { mode: 'inbox' })).toEqual([]);
    expect(messages('tiktok', { privacy_level: 'FRIENDS', mode: 'draft', disable_duet: 3, disable_comment: 'true', disable_stitch: false })).toEqual([
      'mode: TikTok: the option mode is "draft"; use direct (post now) or inbox (send to the TikTok inbox as a draft)',
      'privacy_level: TikTok: the option privacy_level is "FRIENDS"; use one of PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, FOLLOWER_OF_CREATOR, SELF_ONLY',
      'disable_duet: TikTok: the option disable_duet is 3; use true or false',
    ]);
    expect(messages('tiktok', { privacy_level: ['SELF_ONLY'] })).toEqual([
      'privacy_level: TikTok: the option privacy_level is ["SELF_ONLY"]; it must be text',
    ]);
  });

  it('reads the creator info choices', () => {
    const info = creatorInfoOf([
      { id: 'SELF_ONLY', name: 'Only me', extra: null },
      { id: 'PUBLIC_TO_EVERYONE', name: 'Everyone', extra: null },
      { id: 'max_video_post_duration_sec', name: 'Longest video', extra: { value: 600 } },
      { id: 'duet_disabled', name: 'Duet is off', extra: null },
    ]);
    expect(info).toEqual({
      privacyLevels: ['PUBLIC_TO_EVERYONE', 'SELF_ONLY'],
      maxVideoSecs: 600,
      commentDisabled: false,
      duetDisabled: true,
      stitchDisabled: false,
    });
    expect(creatorInfoOf([]).maxVideoSecs).toBeNull();
    expect(creatorInfoOf([{ id: 'max_video_post_duration_sec', name: '', extra: { value: '300' } }]).maxVideoSecs).toBe(300);
  });

  it("checks a video against the TikTok account's own longest video", () => {
    const creators = new Map([[tiktok.id, creatorInfoOf([{ id: 'SELF_ONLY', name: 'Only me', extra: null }, { id: 'max_video_post_duration_sec', name: '', extra: { value: 600 } }])]]);
    const c = clip({ 'tiktok:me': { privacy_level: 'SELF_ONLY' } });
    const f = checkContext(c, { accounts: [tiktok], durations: new Map([['/tmp/long.mp4', 750.4]]), creators });
    expect(f.map((x) => `${x.field}: ${x.message}`)).toEqual([
      'media[1]: TikTok: long.mp4 is 12 min 30 s long; this account can post videos up to 10 min — trim it',
    ]);
    expect(checkContext(c, { accounts: [tiktok], durations: new Map([['/tmp/long.mp4', 600]]), creators })).toEqual([]);
    // Without the account's own limit, TikTok's general one.
    expect(checkContext(c, { accounts: [tiktok], durations: new Map([['/tmp/long.mp4', 750]]) }).map((x) => x.message)).toEqual([
      'TikTok: long.mp4 is 12:30 long; TikTok takes videos up to 10 min — trim it',
    ]);
    // A creator allowed longer videos is not held to the general 10 minutes.
    const long = new Map([[tiktok.id, creatorInfoOf([{ id: 'max_video_post_duration_sec', name: '', extra: { value: 3600 } }])]]);
    expect(checkContext(c, { accounts: [tiktok], durations: new Map([['/tmp/long.mp4', 750]]), creators: long })).toEqual([]);
  });

  it('refuses a TikTok privacy level the account is not offered (an unaudited app is posted privately instead)', () => {
    const offered = (...levels: string[]) =>
      new Map([[tiktok.id, creatorInfoOf(levels.map((id) => ({ id, name: id, extra: null })))]]);
    const c = clip({ 'tiktok:me': { privacy_level: 'PUBLIC_TO_EVERYONE' } });
    expect(checkContext(c, { accounts: [tiktok], creators: offered('FOLLOWER_OF_CREATOR', 'SELF_ONLY') }).map((x) => x.message)).toEqual([
      'TikTok: tiktok:me cannot post with privacy_level PUBLIC_TO_EVERYONE (TikTok offers FOLLOWER_OF_CREATOR, SELF_ONLY) — choose one of those',
    ]);
    expect(checkContext(c, { accounts: [tiktok], creators: offered('SELF_ONLY') })).toEqual([]);
    expect(checkContext(c, { accounts: [tiktok], creators: offered('PUBLIC_TO_EVERYONE', 'SELF_ONLY') })).toEqual([]);
  });

  it('checks YouTube titles, privacy, tags and switches', () => {
    expect(messages('youtube', { title: 'My video', privacy: 'Unlisted', made_for_kids: false, tags: ['a', 'b c'], hand_off: 'true' })).toEqual([]);
    expect(messages('youtube', { title: `${'t'.repeat(101)}` })).toEqual([
      'title: YouTube: the title is 101 characters; the limit is 100 — shorten it by 1',
    ]);
    expect(messages('youtube', { title: 'Tables <3', privacy: 'secret', made_for_kids: 'no' })).toEqual([
      'title: YouTube: the title contains < or >, which YouTube refuses — remove them',
      'privacy: YouTube: the option privacy is "secret"; use public, unlisted or private',
      'made_for_kids: YouTube: the option made_for_kids is "no"; use true or false',
    ]);
    expect(messages('youtube', { tags: 'wood, <b>' })).toEqual([
      'tags: YouTube: the tag "<b>" contains < or >, which YouTube refuses — remove them',
    ]);
    const many = Array.from({ length: 50 }, (_, i) => `tag number ${i}`);
    expect(tagsLength(['a', 'b c'])).toBe(1 + 3 + 2 + 1);
    expect(messages('youtube', { tags: many })).toEqual([
      `tags: YouTube: the tags take ${tagsLength(many)} characters (commas, and quotes around tags with spaces, count); the limit is 500 — remove some tags`,
    ]);
    expect(messages('youtube', { tags: [{}] })).toEqual(['tags: YouTube: the option tags contains {}; give words, e.g. travel, alps']);
    expect(splitTags(' woodworking, #walnut ,, side table ')).toEqual(['woodworking', 'walnut', 'side table']);
    expect(derivedYoutubeTitle('\n  Walnut <table>  \nmore')).toBe('Walnut table');
    expect(derivedYoutubeTitle('', 'clip-01.mp4')).toBe('clip-01');
  });

  it('checks the Facebook switches', () => {
    expect(messages('facebook', { hand_off: true, reel: false })).toEqual([]);
    expect(messages('facebook', { hand_off: 'soon' })).toEqual(['hand_off: Facebook: the option hand_off is "soon"; use true or false']);
    expect(messages('instagram', { anything: 1 })).toEqual([]);
  });

  it('says lengths as the engine does', () => {
    expect(humanMs(750_400)).toBe('12 min 30 s');
    expect(humanMs(600_000)).toBe('10 min');
    expect(humanMs(45_000)).toBe('45 s');
    expect(humanMs(500)).toBe('0.5 s');
  });
});
