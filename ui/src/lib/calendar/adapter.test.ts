import { describe, expect, it, vi } from 'vitest';
import { BackendError } from '../backend/backend';
import type { Post } from '../bindings/Post';
import type { Target } from '../bindings/Target';
import type { TargetState } from '../bindings/TargetState';
import { derivePostStatus } from '../rules/status';
import { dropToReschedule, eventsForRange, floatingNow, floatingTime, postToEvent, postsToEvents, titleOf } from './adapter';

function target(state: TargetState, network: Target['network'] = 'bluesky'): Target {
  return {
    id: `t_${network}_${state}`,
    post_id: 'p_1',
    account_id: `a_${network}`,
    account_address: `${network}:me`,
    network,
    state,
    due_at: null,
    next_attempt_at: null,
    wait_reason: null,
    attempts: 0,
    remote_id: null,
    remote_url: null,
    progress: [],
    last_error: null,
    error_class: null,
    lease_owner: null,
    lease_until: null,
    phase: null,
    processing_since: null,
    updated_at: '2026-11-01T00:00:00Z',
  };
}

function post(states: TargetState[], at: string | null = '2026-12-01T08:30:00Z', text = 'Hello world'): Post {
  const networks: Target['network'][] = ['bluesky', 'x', 'threads'];
  const targets = states.map((s, i) => target(s, networks[i] ?? 'bluesky'));
  return {
    id: 'p_1',
    content: { parts: [{ text, media: [] }], variants: {}, first_comment: null, options: {} },
    scheduled_at: at,
    time_zone: 'Europe/Berlin',
    status: derivePostStatus(states),
    error_summary: null,
    created_at: '2026-11-01T00:00:00Z',
    updated_at: '2026-11-01T00:00:00Z',
    targets,
  };
}

describe('posts → calendar events', () => {
  it('places the post at its wall-clock time in the user zone', () => {
    const e = postToEvent(post(['scheduled']), 'Europe/Berlin');
    expect(e?.start).toBe('2026-12-01T09:30:00');
    expect(postToEvent(post(['scheduled']), 'America/New_York')?.start).toBe('2026-12-01T03:30:00');
    expect(floatingTime('2026-07-01T07:30:00Z', 'Europe/Berlin')).toBe('2026-07-01T09:30:00');
  });

  it('colours by state and lists the networks once', () => {
    const e = postToEvent(post(['published', 'failed']), 'UTC');
    expect(e?.extendedProps.status).toBe('partially_published');
    expect(e?.extendedProps.networks).toEqual(['bluesky', 'x']);
    expect(e?.classNames).toContain('tone-partial');
    expect(postToEvent(post(['failed']), 'UTC')?.backgroundColor).toBe('#c62828');
    expect(postToEvent(post(['scheduled']), 'UTC')?.backgroundColor).toBe('#2f6fdf');
  });

  it('is editable only when every target is scheduled, draft, missed or failed', () => {
    const cases: Array<[TargetState[], boolean]> = [
      [['scheduled'], true],
      [['scheduled', 'draft'], true],
      [['missed'], true],
      [['failed', 'scheduled'], true],
      [['published'], false],
      [['scheduled', 'published'], false],
      [['sending'], false],
      [['processing'], false],
      [['unconfirmed'], false],
      [['cancelled'], false],
    ];
    for (const [states, editable] of cases) {
      expect(postToEvent(post(states), 'UTC')?.editable, states.join(',')).toBe(editable);
    }
  });

  it('leaves unscheduled drafts off the calendar and shortens titles', () => {
    expect(postToEvent(post(['draft'], null), 'UTC')).toBeNull();
    expect(postsToEvents([post(['draft'], null), post(['scheduled'])], 'UTC')).toHaveLength(1);
    const long = post(['scheduled'], '2026-12-01T08:30:00Z', 'x'.repeat(100));
    expect([...titleOf(long)].length).toBe(60);
    expect(titleOf(long).endsWith('…')).toBe(true);
  });

  it('gives FullCalendar "now" as the user zone wall clock', () => {
    expect(floatingNow('Europe/Berlin', Date.parse('2026-12-01T08:30:00Z')).toISOString()).toBe('2026-12-01T09:30:00.000Z');
  });
});

describe('the visible range', () => {
  const at = (day: number, hour: number) => `2026-12-${String(day).padStart(2, '0')}T${String(hour).padStart(2, '0')}:00:00Z`;
  const many = (day: number, n: number) =>
    Array.from({ length: n }, (_, i) => ({ ...post(['scheduled'], at(day, 8 + i)), id: `p_${day}_${i}` }));
  const range = { start: new Date('2026-11-30T00:00:00Z'), end: new Date('2027-01-11T00:00:00Z') };

  it('keeps only posts in the range, in the zone', () => {
    const posts = [...many(1, 1), { ...post(['scheduled'], '2027-02-01T08:00:00Z'), id: 'p_far' }];
    expect(eventsForRange(posts, 'UTC', range).map((e) => e.id)).toEqual(['p_1_0']);
  });

  it('shows a crowded day as its first posts and one "+N more" chip', () => {
    const posts = [...many(1, 2), ...many(2, 6)];
    posts[5] = { ...post(['failed'], at(2, 11)), id: 'p_2_3' };
    const events = eventsForRange(posts, 'UTC', range, 3);
    expect(events.map((e) => e.id)).toEqual(['p_1_0', 'p_1_1', 'p_2_0', 'p_2_1', 'more:2026-12-02']);
    const more = events.at(-1);
    expect(more?.title).toBe('+4 more · 1 to check');
    expect(more?.extendedProps.more).toBe(4);
    expect(more?.editable).toBe(false);
    expect(more?.end, 'the chip never spills into the next day').toBe('2026-12-02T23:59:00');
    expect(eventsForRange(posts, 'UTC', range), 'no aggregation outside the month grid').toHaveLength(8);
  });
});

describe('drop → reschedulePost', () => {
  it('converts the dropped wall-clock time in the zone to an instant', async () => {
    const reschedulePost = vi.fn(async (id: string, at: string) => ({ ...post(['scheduled']), id, scheduled_at: at }));
    const r = await dropToReschedule({ reschedulePost }, post(['scheduled']), new Date('2026-12-03T09:30:00Z'), 'Europe/Berlin');
    expect(reschedulePost).toHaveBeenCalledWith('p_1', '2026-12-03T08:30:00.000Z');
    expect(r.ok).toBe(true);
  });

  it('refuses published and posting posts without calling the backend', async () => {
    const reschedulePost = vi.fn();
    const r = await dropToReschedule({ reschedulePost }, post(['published']), new Date('2026-12-03T09:30:00Z'), 'UTC');
    expect(r).toEqual({
      ok: false,
      message: 'This post cannot be moved. It is already published — a published post cannot be moved. Duplicate it to post again.',
    });
    const s = await dropToReschedule({ reschedulePost }, post(['sending']), new Date('2026-12-03T09:30:00Z'), 'UTC');
    expect(s.ok).toBe(false);
    expect(reschedulePost).not.toHaveBeenCalled();
  });

  it('refuses a time inside a DST gap, and passes the backend refusal through', async () => {
    const reschedulePost = vi.fn(async () => {
      throw new BackendError('invalid_input', 'time: 2020-01-01T00:00:00+00:00 is in the past');
    });
    const gap = await dropToReschedule({ reschedulePost }, post(['scheduled']), new Date('2027-03-28T02:30:00Z'), 'Europe/Berlin');
    expect(gap.ok).toBe(false);
    expect(!gap.ok && gap.message).toContain('does not exist in Europe/Berlin');
    const past = await dropToReschedule({ reschedulePost }, post(['scheduled']), new Date('2020-01-01T00:00:00Z'), 'UTC');
    expect(past).toEqual({ ok: false, message: 'time: 2020-01-01T00:00:00+00:00 is in the past' });
  });
});
