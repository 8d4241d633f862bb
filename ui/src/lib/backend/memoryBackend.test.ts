import { describe, expect, it } from 'vitest';
import type { Draft } from '../bindings/Draft';
import type { Event } from '../bindings/Event';
import { BackendError } from './backend';
import { MemoryBackend } from './memoryBackend';
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
    expect((await rejection(b.beginConnect('tiktok'))).message).toBe('TikTok: Outpost cannot connect this network yet');
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
