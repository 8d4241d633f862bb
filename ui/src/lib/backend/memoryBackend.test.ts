import { describe, expect, it } from 'vitest';
import type { Draft } from '../bindings/Draft';
import type { Event } from '../bindings/Event';
import { BackendError } from './backend';
import { MemoryBackend } from './memoryBackend';
import { isMovable, shownStatus } from '../rules/status';
import { seedDemo } from './seed';

function backend() {
  let now = Date.parse('2026-11-28T10:00:00Z');
  const b = new MemoryBackend({ tickMs: 0, zone: 'Europe/Berlin', now: () => now });
  const events: Event[] = [];
  b.onEvent((e) => events.push(e));
  const a = b.addAccount({ id: 'a_me', network: 'bluesky', handle: 'me.bsky.social' });
  return { b, a, events, advance: (ms: number) => (now += ms) };
}

const draft = (text: string, when: Draft['when'], account_ids = ['a_me']): Draft => ({
  parts: [{ text, media: [] }],
  variants: {},
  first_comment: null,
  options: {},
  account_ids,
  when,
});

async function rejection(p: Promise<unknown>): Promise<BackendError> {
  try {
    await p;
  } catch (e) {
    return e as BackendError;
  }
  throw new Error('expected a rejection');
}

describe('memory backend', () => {
  it('publishes a "now" post over two ticks and emits every change', async () => {
    const { b, events } = backend();
    const p = await b.schedulePost(draft('hello', { kind: 'now' }));
    expect(p.status).toBe('scheduled');
    b.tick();
    expect((await b.getPost(p.id)).post.targets[0]?.state).toBe('sending');
    b.tick();
    const done = (await b.getPost(p.id)).post;
    expect(done.status).toBe('published');
    expect(done.targets[0]?.remote_url).toMatch(/^https:\/\/bsky\.app\/profile\/me\.bsky\.social\/post\//);
    const states = events.flatMap((e) => (e.type === 'target_changed' ? [e.target.state] : []));
    expect(states).toEqual(['scheduled', 'sending', 'published']);
    expect(events.some((e) => e.type === 'health')).toBe(true);
  });

  it('schedules wall-clock time in the zone and refuses the past and DST gaps', async () => {
    const { b } = backend();
    const p = await b.schedulePost(draft('later', { kind: 'at', local: '2026-12-01T09:30', zone: 'Europe/Berlin' }));
    expect(p.scheduled_at).toBe('2026-12-01T08:30:00.000Z');
    const past = await rejection(b.schedulePost(draft('x', { kind: 'at', local: '2026-11-01T09:30', zone: 'Europe/Berlin' })));
    expect(past.code).toBe('invalid_input');
    expect(past.message).toContain('is in the past');
    const gap = await rejection(b.schedulePost(draft('x', { kind: 'at', local: '2027-03-28T02:30', zone: 'Europe/Berlin' })));
    expect(gap.message).toContain('does not exist in Europe/Berlin');
  });

  it('refuses content the network would refuse, with the engine message', async () => {
    const { b } = backend();
    const e = await rejection(b.schedulePost(draft('a'.repeat(312), { kind: 'now' })));
    expect(e.code).toBe('invalid_input');
    expect(e.message).toBe('Bluesky: text is 312 characters (graphemes); the limit is 300 — shorten it by 12 (text)');
    const none = await rejection(b.schedulePost(draft('hi', { kind: 'now' }, [])));
    expect(none.message).toBe('accounts: choose at least one account to post to');
  });

  it('produces failed and unconfirmed targets from scripted failures, and retry publishes', async () => {
    const { b } = backend();
    b.scriptFailure('a_me', 'failed');
    const p = await b.schedulePost(draft('will fail', { kind: 'now' }));
    b.tick();
    b.tick();
    let t = (await b.getPost(p.id)).post.targets[0];
    expect(t?.state).toBe('failed');
    expect(t?.last_error).toBe('Bluesky: the server is unavailable (HTTP 503 NotEnoughResources) — gave up after 6 attempts');
    await b.retryPost(p.id);
    b.tick();
    b.tick();
    t = (await b.getPost(p.id)).post.targets[0];
    expect(t?.state).toBe('published');

    b.scriptFailure('a_me', 'unconfirmed');
    const q = await b.schedulePost(draft('in doubt', { kind: 'now' }));
    b.tick();
    b.tick();
    expect((await b.getPost(q.id)).post.status).toBe('needs_attention');
    const confirmed = await b.confirmPosted(q.id, 'a_me');
    expect(confirmed.status).toBe('published');
  });

  it('moves pending posts and refuses to move published ones', async () => {
    const { b } = backend();
    const p = await b.schedulePost(draft('move me', { kind: 'at', local: '2026-12-01T09:30', zone: 'Europe/Berlin' }));
    const moved = await b.reschedulePost(p.id, '2026-12-02T08:30:00Z');
    expect(moved.scheduled_at).toBe('2026-12-02T08:30:00.000Z');
    expect(moved.targets[0]?.next_attempt_at).toBe('2026-12-02T08:30:00.000Z');
    const q = await b.schedulePost(draft('now', { kind: 'now' }));
    b.tick();
    const busy = await rejection(b.reschedulePost(q.id, '2026-12-02T08:30:00Z'));
    expect(busy.code).toBe('conflict');
    expect(busy.message).toBe('Bluesky is publishing this post right now — wait until it finishes');
    b.tick();
    const done = await rejection(b.reschedulePost(q.id, '2026-12-02T08:30:00Z'));
    expect(done.message).toBe('Bluesky has already published this post — it cannot be moved; duplicate it to post again');
  });

  it('holds due posts while paused, and reports no dispatcher when none runs', async () => {
    const { b } = backend();
    await b.pause();
    const p = await b.schedulePost(draft('wait', { kind: 'now' }));
    b.tick();
    expect((await b.getPost(p.id)).post.status).toBe('scheduled');
    expect((await b.getStatus()).queue_depth).toBe(1);
    await b.resume();
    b.tick();
    expect((await b.getPost(p.id)).post.status).toBe('publishing');
    const dead = new MemoryBackend({ tickMs: 0, runner: false });
    expect((await dead.getStatus()).running).toBe(false);
  });

  it('keeps app secrets write-only', async () => {
    const { b } = backend();
    await b.setAppCredentials('x', 'client-1', 's3cret');
    const list = await b.listAppCredentials();
    expect(list).toEqual([{ network: 'x', client_id: 'client-1', secret_set: true }]);
    expect(JSON.stringify(list)).not.toContain('s3cret');
    await b.setAppCredentials('x', 'client-2');
    expect((await b.listAppCredentials())[0]?.secret_set).toBe(true);
  });

  it('connects and reconnects Bluesky accounts', async () => {
    const { b } = backend();
    const bad = await rejection(b.connectBluesky({ handle: 'alice.bsky.social', appPassword: 'hunter2' }));
    expect(bad.message).toContain('xxxx-xxxx-xxxx-xxxx');
    const r = await b.connectBluesky({ handle: '@Alice.bsky.social', appPassword: 'abcd-efgh-ijkm-npqr' });
    expect(r).toMatchObject({ reconnected: false, account: { handle: 'alice.bsky.social', status: 'active' } });
    const again = await b.connectBluesky({ handle: 'alice.bsky.social', appPassword: 'abcd-efgh-ijkm-npqr' });
    expect(again.reconnected).toBe(true);
  });

  it('seeds a demo with every card state', async () => {
    const b = new MemoryBackend({ tickMs: 0, zone: 'UTC' });
    seedDemo(b);
    const statuses = new Set((await b.listPosts()).map((p) => p.status));
    for (const s of ['published', 'failed', 'needs_attention', 'partially_published', 'cancelled', 'scheduled', 'draft']) {
      expect(statuses.has(s as never), s).toBe(true);
    }
  });

  it('refuses to connect OAuth networks without the app credentials, with the engine messages', async () => {
    const { b } = backend();
    const x = await rejection(b.beginConnect('x'));
    expect(x.code).toBe('invalid_input');
    expect(x.message).toBe(
      'X: no client id — create your X developer app (docs/networks/x.md) and enter its client id in Settings › App credentials (or `outpost apps set x --client-id …`)',
    );
    await b.setAppCredentials('linkedin', 'li-client');
    expect((await rejection(b.beginConnect('linkedin'))).message).toBe(
      "LinkedIn: no client secret — enter your LinkedIn app's client secret in Settings › App credentials",
    );
    await b.setAppCredentials('pinterest', 'pin-client');
    expect((await rejection(b.beginConnect('pinterest'))).message).toBe(
      "Pinterest: no client secret — enter your Pinterest app's client secret in Settings › App credentials",
    );
    expect((await rejection(b.beginConnect('tiktok'))).message).toBe(
      'TikTok: no client id — create your TikTok developer app (docs/networks/tiktok.md) and enter its client id in Settings › App credentials (or `outpost apps set tiktok --client-id …`)',
    );
    await b.setAppCredentials('youtube', 'yt-client');
    expect((await rejection(b.beginConnect('youtube'))).message).toBe(
      "YouTube: no client secret — enter your YouTube app's client secret in Settings › App credentials",
    );
    expect((await rejection(b.beginConnect('bluesky'))).message).toBe('Bluesky is not connected with OAuth — see `outpost accounts add --help`');
  });

  it('connects Meta networks through the relay page or a pasted address, and TikTok and YouTube on any loopback port', async () => {
    const { b } = backend();
    await b.setAppCredentials('facebook', 'fb-app', 'fb-secret');
    expect((await rejection(b.beginConnect('facebook'))).message).toBe(
      "Facebook: Facebook only sends sign-ins back to an https:// address — host Outpost's relay page (docs/oauth-relay.html) on any HTTPS static host, register its address in your Facebook app and enter it as the relay page address when connecting (or `--relay`)",
    );
    expect((await rejection(b.beginConnect('facebook', 'http://relay.example/r.html'))).message).toBe(
      'Facebook: the relay page address "http://relay.example/r.html" is not usable: it must be a complete https:// address without a # part',
    );
    const relay = 'https://you.github.io/oauth-relay.html';
    const start = await b.beginConnect('facebook', ` ${relay} `);
    expect(start.redirect_uri).toBe(relay);
    const url = new URL(start.authorize_url);
    expect(url.origin + url.pathname).toBe('https://www.facebook.com/v27.0/dialog/oauth');
    expect(url.searchParams.get('scope')).toBe('pages_show_list,pages_manage_posts,pages_read_engagement,pages_manage_engagement');
    expect(url.searchParams.get('redirect_uri')).toBe(relay);
    // Through the relay page, state carries the listener's port first.
    const state = url.searchParams.get('state') ?? '';
    expect(state).toMatch(/^\d{4,5}\.[A-Za-z0-9_-]{43}$/);
    b.signedIn.facebook = 'martinwoodworks';
    const done = b.finishConnect(start.session);
    // Meta adds "#_": the pasted address still works.
    await b.pasteConnect(start.session, `${relay}?code=AQB-1&state=${state}#_`);
    expect((await done).account).toMatchObject({ network: 'facebook', handle: 'martinwoodworks', status: 'active' });

    await b.setAppCredentials('tiktok', 'tt-key', 'tt-secret');
    const tt = await b.beginConnect('tiktok');
    expect(tt.redirect_uri).toMatch(/^http:\/\/127\.0\.0\.1:\d{4,5}\/callback\/$/);
    const ttUrl = new URL(tt.authorize_url);
    expect(ttUrl.searchParams.get('client_key')).toBe('tt-key');
    expect(ttUrl.searchParams.get('client_id')).toBeNull();
    expect(ttUrl.searchParams.get('scope')).toBe('user.info.basic,video.upload,video.publish');
    // A relay page works for TikTok too.
    expect((await b.beginConnect('tiktok', relay)).redirect_uri).toBe(relay);
    await b.setAppCredentials('youtube', 'yt.apps.googleusercontent.com', 'yt-secret');
    const yt = await b.beginConnect('youtube');
    expect(yt.redirect_uri).toMatch(/^http:\/\/127\.0\.0\.1:\d{4,5}\/callback$/);
    expect(new URL(yt.authorize_url).searchParams.get('code_challenge_method')).toBe('S256');
  });

  it("gives TikTok's creator info and checks a TikTok post as the engine would", async () => {
    const { b } = backend();
    const tt = b.addAccount({ id: 'a_tt', network: 'tiktok', handle: 'me.tt' });
    expect(await b.accountChoices(tt.id, 'creator_info')).toEqual([
      { id: 'SELF_ONLY', name: 'Only me', extra: null },
      { id: 'max_video_post_duration_sec', name: 'Longest video', extra: { value: 600 } },
    ]);
    const long = b.stageMedia({ mime: 'video/mp4', path: '/Videos/long.mp4', duration_secs: 700 });
    const short = b.stageMedia({ mime: 'video/mp4', path: '/Videos/short.mp4', duration_secs: 42 });
    const clip = (path: string, options: Draft['options']): Draft => ({
      ...draft('a clip', { kind: 'at', local: '2026-12-01T09:30', zone: 'Europe/Berlin' }, [tt.id]),
      parts: [{ text: 'a clip', media: [{ path, alt: null }] }],
      options,
    });
    expect((await b.checkDraft(clip(short.path, {}))).map((f) => f.message)).toEqual([
      'TikTok: choose who can watch this video for tiktok:me.tt',
    ]);
    expect((await rejection(b.schedulePost(clip(long.path, { 'tiktok:me.tt': { privacy_level: 'SELF_ONLY' } })))).message).toBe(
      'TikTok: long.mp4 is 11 min 40 s long; this account can post videos up to 10 min — trim it (media[1])',
    );
    expect(await b.checkDraft(clip(short.path, { 'tiktok:me.tt': { privacy_level: 'SELF_ONLY' } }))).toEqual([]);

    // An audited app offers more; a level it does not offer is refused.
    b.choices.set('a_tt:creator_info', [
      { id: 'PUBLIC_TO_EVERYONE', name: 'Everyone', extra: null },
      { id: 'SELF_ONLY', name: 'Only me', extra: null },
      { id: 'max_video_post_duration_sec', name: 'Longest video', extra: { value: 900 } },
    ]);
    expect((await b.checkDraft(clip(long.path, { 'tiktok:me.tt': { privacy_level: 'MUTUAL_FOLLOW_FRIENDS' } }))).map((f) => f.message)).toEqual([
      'TikTok: tiktok:me.tt cannot post with privacy_level MUTUAL_FOLLOW_FRIENDS (TikTok offers PUBLIC_TO_EVERYONE, SELF_ONLY) — choose one of those',
    ]);
  });

  it('publishes TikTok privately with a notice from an unaudited app, and to the inbox when asked', async () => {
    const { b } = backend();
    const tt = b.addAccount({ id: 'a_tt', network: 'tiktok', handle: 'me.tt' });
    const v = b.stageMedia({ mime: 'video/mp4', duration_secs: 30 });
    const now = (options: Draft['options']): Draft => ({
      ...draft('clip', { kind: 'now' }, [tt.id]),
      parts: [{ text: 'clip', media: [{ path: v.path, alt: null }] }],
      options,
    });
    b.choices.set('a_tt:creator_info', [{ id: 'SELF_ONLY', name: 'Only me', extra: null }]);
    const inbox = await b.schedulePost(now({ 'tiktok:me.tt': { mode: 'inbox' } }));
    b.tick();
    b.tick();
    const sent = (await b.getPost(inbox.id)).post.targets[0];
    expect(sent?.state).toBe('published');
    expect(sent?.progress[0]?.extra).toMatchObject({
      mode: 'inbox',
      notice: 'TikTok: the video was sent to your TikTok inbox as a draft — open the TikTok app to finish posting it',
    });
    expect(sent?.remote_url).toMatch(/^https:\/\/www\.tiktok\.com\/@me\.tt\/video\//);
  });

  it('hands scheduled YouTube and Facebook posts to the network, and changes or deletes the held copy', async () => {
    const { b } = backend();
    const yt = b.addAccount({ id: 'a_yt', network: 'youtube', handle: 'me' });
    const fb = b.addAccount({ id: 'a_fb', network: 'facebook', handle: 'page' });
    const v = b.stageMedia({ mime: 'video/mp4', duration_secs: 30 });
    const at = (local: string, ids: string[], options: Draft['options']): Draft => ({
      ...draft('A walnut table', { kind: 'at', local, zone: 'Europe/Berlin' }, ids),
      parts: [{ text: 'A walnut table', media: [{ path: v.path, alt: null }] }],
      options,
    });
    // YouTube holds public videos by default; Facebook only with hand_off.
    const p = await b.schedulePost(at('2026-11-30T18:00', [yt.id, fb.id], { 'youtube:me': { made_for_kids: false }, 'facebook:page': { hand_off: true } }));
    const plain = await b.schedulePost(at('2026-11-30T18:00', [fb.id], {}));
    const off = await b.schedulePost(at('2026-11-30T18:00', [yt.id], { 'youtube:me': { hand_off: false } }));
    b.tick();
    b.tick();
    const held = (await b.getPost(p.id)).post;
    expect(held.targets.map((t) => t.state)).toEqual(['published', 'published']);
    expect(held.status).toBe('published');
    expect(shownStatus(held, b.now())).toBe('scheduled');
    expect(held.targets[0]?.progress[0]?.extra).toEqual({
      privacy: 'private',
      scheduled_on_network: '2026-11-30T17:00:00Z',
      notice: 'scheduled on YouTube for 2026-11-30 17:00 UTC',
    });
    expect(held.targets[1]?.progress[0]?.extra).toEqual({
      scheduled_on_network: '2026-11-30T17:00:00Z',
      notice: 'scheduled on Facebook for 2026-11-30 17:00 UTC',
    });
    expect(isMovable(held, b.now())).toBe(true);
    expect((await b.getPost(plain.id)).post.targets[0]?.state).toBe('scheduled');
    expect((await b.getPost(off.id)).post.targets[0]?.state).toBe('scheduled');

    // Moved: the networks' copies move with it.
    const moved = await b.reschedulePost(p.id, '2026-12-01T08:00:00Z');
    expect(moved.targets.map((t) => (t.progress[0]?.extra as { scheduled_on_network?: string }).scheduled_on_network)).toEqual([
      '2026-12-01T08:00:00Z',
      '2026-12-01T08:00:00Z',
    ]);
    // Edited: the held copies are kept (changed on the network), not posted again.
    const edited = await b.updatePost(p.id, at('2026-12-01T10:00', [yt.id, fb.id], { 'youtube:me': { title: 'New title' }, 'facebook:page': { hand_off: true } }));
    expect(edited.targets.map((t) => t.state)).toEqual(['published', 'published']);
    expect(edited.targets.map((t) => t.due_at)).toEqual(['2026-12-01T09:00:00.000Z', '2026-12-01T09:00:00.000Z']);
    // Cancelled: deleted there.
    const cancelled = await b.cancelPost(p.id);
    expect(cancelled.targets.map((t) => t.state)).toEqual(['cancelled', 'cancelled']);
  });

  it('checks YouTube and Facebook options with the engine messages', async () => {
    const { b } = backend();
    const yt = b.addAccount({ id: 'a_yt', network: 'youtube', handle: 'me' });
    const fb = b.addAccount({ id: 'a_fb', network: 'facebook', handle: 'page' });
    const v = b.stageMedia({ mime: 'video/mp4', duration_secs: 30 });
    const d: Draft = {
      ...draft('clip', { kind: 'at', local: '2026-12-01T09:30', zone: 'Europe/Berlin' }, [yt.id, fb.id]),
      parts: [{ text: 'clip', media: [{ path: v.path, alt: null }] }],
      options: { 'youtube:me': { title: 'x'.repeat(120), tags: 'a, <b>', privacy: 'friends' }, 'facebook:page': { reel: 'yes' } },
    };
    expect((await b.checkDraft(d)).map((f) => `${f.field}: ${f.message}`)).toEqual([
      'title: YouTube: the title is 120 characters; the limit is 100 — shorten it by 20',
      'privacy: YouTube: the option privacy is "friends"; use public, unlisted or private',
      'tags: YouTube: the tag "<b>" contains < or >, which YouTube refuses — remove them',
      'reel: Facebook: the option reel is "yes"; use true or false',
    ]);
  });

  it('connects X from a pasted address, and reconnects the same handle', async () => {
    const { b } = backend();
    await b.setAppCredentials('x', 'x-client');
    const start = await b.beginConnect('x');
    expect(start.network).toBe('x');
    expect(start.redirect_uri).toBe('http://127.0.0.1:8723/callback');
    const url = new URL(start.authorize_url);
    expect(url.origin + url.pathname).toBe('https://x.com/i/oauth2/authorize');
    expect(url.searchParams.get('client_id')).toBe('x-client');
    expect(url.searchParams.get('redirect_uri')).toBe(start.redirect_uri);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    const state = url.searchParams.get('state') ?? '';
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const done = b.finishConnect(start.session);
    // Refusals leave the attempt waiting, with the engine's words.
    expect((await rejection(b.pasteConnect(start.session, 'hello'))).message).toBe(
      "X: the address has no authorisation code in it — copy the whole address from the browser's address bar after agreeing",
    );
    expect((await rejection(b.pasteConnect(start.session, '   '))).message).toBe(
      'X: that does not look like the address the browser was sent to — copy the whole address from the address bar (it contains code= and state=)',
    );
    expect((await rejection(b.pasteConnect(start.session, 'http://127.0.0.1:8723/callback?code=abc&state=other'))).message).toBe(
      'X: this sign-in address belongs to another connection attempt (its state does not match) — use the address from the attempt you just started, or start again',
    );
    expect((await rejection(b.pasteConnect(start.session, `error=access_denied&state=${state}`))).message).toBe(
      "X: you declined the connection on X's page, so nothing was connected",
    );
    await b.pasteConnect(start.session, ` <http://127.0.0.1:8723/callback?code=abc-123&state=${state}> `);
    const r = await done;
    expect(r.reconnected).toBe(false);
    expect(r.account).toMatchObject({ network: 'x', handle: 'me', status: 'active', settings: { client_id: 'x-client' } });
    expect(r.account.token_expires_at).not.toBeNull();
    // The attempt is over.
    expect((await rejection(b.pasteConnect(start.session, `code=1&state=${state}`))).message).toBe(
      'this connect attempt has ended — start connecting again',
    );

    // The same handle again: reconnected, its choices kept.
    const me = r.account;
    b.accounts.get(me.id)!.status = 'needs_reconnect';
    await b.setAccountDefault(me.id, 'author', 'kept');
    const again = await b.beginConnect('x');
    const finishing = b.finishConnect(again.session);
    b.approve(again.session);
    const r2 = await finishing;
    expect(r2.reconnected).toBe(true);
    expect(r2.account.id).toBe(me.id);
    expect(r2.account.status).toBe('active');
    expect(r2.account.settings).toMatchObject({ author: 'kept', client_id: 'x-client' });
    expect([...b.accounts.values()].filter((a) => a.network === 'x')).toHaveLength(1);
  });

  it('ends a connect attempt on decline, cancel and timeout', async () => {
    const { b } = backend();
    await b.setAppCredentials('pinterest', 'pin-client', 'pin-secret');
    const a = await b.beginConnect('pinterest');
    expect(new URL(a.authorize_url).searchParams.get('scope')).toBe('boards:read,boards:write,pins:read,pins:write,user_accounts:read');
    expect(a.redirect_uri).toBe('http://127.0.0.1:8725/callback');
    // An approval before finishConnect is kept for it.
    b.approve(a.session, 'alice');
    expect((await b.finishConnect(a.session)).account.handle).toBe('alice');

    const d = await b.beginConnect('pinterest');
    const declined = b.finishConnect(d.session);
    b.decline(d.session);
    expect((await rejection(declined)).message).toBe("Pinterest: you declined the connection on Pinterest's page, so nothing was connected");

    const c = await b.beginConnect('pinterest');
    const cancelled = b.finishConnect(c.session);
    expect((await rejection(b.finishConnect(c.session))).message).toBe('this connect attempt is already being finished');
    await b.cancelConnect(c.session);
    expect((await rejection(cancelled)).message).toBe('this connect attempt has ended — start connecting again');
    expect(b.pendingConnects()).toEqual([]);

    const slow = new MemoryBackend({ tickMs: 0, connectTimeoutMs: 20 });
    await slow.setAppCredentials('x', 'x-client');
    const t = await slow.beginConnect('x');
    expect((await rejection(slow.finishConnect(t.session))).message).toBe(
      'X: no answer from the browser within 5 minutes — start connecting again (or paste the address you were sent to)',
    );
  });

  it('lists boards and pages and saves account defaults that the post uses', async () => {
    const { b } = backend();
    const pin = b.addAccount({ id: 'a_pin', network: 'pinterest', handle: 'alice' });
    const li = b.addAccount({ id: 'a_li', network: 'linkedin', handle: 'alice-m' });
    const boards = await b.accountChoices('a_pin', 'boards');
    expect(boards.length).toBeGreaterThan(0);
    expect(boards[0]).toMatchObject({ id: expect.stringMatching(/^\d+$/), extra: { privacy: expect.any(String) } });
    const orgs = await b.accountChoices('a_li', 'organizations');
    expect(orgs.every((o) => o.id.startsWith('urn:li:organization:'))).toBe(true);
    expect(await b.accountChoices('a_pin', 'organizations')).toEqual([]);
    expect((await rejection(b.accountChoices('a_nope', 'boards'))).message).toBe(
      'account a_nope: no such account — see `outpost accounts list`',
    );
    expect((await rejection(b.setAccountDefault(pin.id, 'colour', 'red'))).message).toBe('account default "colour": one of board_id, author');

    const pinDraft = (options: Draft['options']): Draft => ({
      ...draft('pin', { kind: 'at', local: '2026-12-01T09:30', zone: 'Europe/Berlin' }, ['a_pin']),
      options,
    });
    const withMedia = (d: Draft): Draft => {
      const m = b.stageMedia({ mime: 'image/png' });
      return { ...d, parts: [{ text: 'pin', media: [{ path: m.path, alt: null }] }] };
    };
    const noBoard = await rejection(b.schedulePost(withMedia(pinDraft({}))));
    expect(noBoard.message).toBe('Pinterest: Pinterest board not selected — choose a board for pinterest:alice (board)');
    const checked = await b.checkDraft(withMedia(pinDraft({ 'pinterest:alice': { board_id: '1', title: 't'.repeat(101), link: 'mailto:a' } })));
    expect(checked.map((f) => [f.field, f.message])).toEqual([
      ['title', 'Pinterest: the pin title is 101 characters; the limit is 100 — shorten it'],
      ['link', 'Pinterest: the pin link "mailto:a" must be an http(s) address of at most 2,048 characters'],
    ]);

    const saved = await b.setAccountDefault(pin.id, 'board_id', ` ${boards[1]!.id} `);
    expect(saved.settings).toEqual({ board_id: boards[1]!.id });
    const p = await b.schedulePost(withMedia(pinDraft({})));
    // As the engine: the default board is written into the stored post under the address.
    expect(p.content.options).toEqual({ 'pinterest:alice': { board_id: boards[1]!.id } });
    expect((await b.setAccountDefault(pin.id, 'board_id', null)).settings).toEqual({});
    expect((await b.setAccountDefault(li.id, 'author', orgs[0]!.id)).settings).toEqual({ author: orgs[0]!.id });
  });
});
