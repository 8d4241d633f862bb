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
});
