//! Posts ⇄ FullCalendar, with no DOM and no FullCalendar import (so it is unit-tested alone).
//!
//! Time zones: FullCalendar runs with `timeZone: 'UTC'` and is fed *wall-clock* times of the
//! user's zone dressed as UTC ("floating" times). So the grid shows exactly the user's zone
//! without a tz plugin, and a drop's new start is read back as wall-clock time in that zone and
//! converted to a real instant here — refusing DST gaps and overlaps instead of guessing.

import type { Backend } from '../backend/backend';
import { errorMessage } from '../backend/backend';
import type { Network } from '../bindings/Network';
import type { Post } from '../bindings/Post';
import type { PostStatus } from '../bindings/PostStatus';
import { displayName } from '../rules/limits';
import { isMovable, POST_LABEL, postTone, shownStatus, TONE_COLOURS, whyNotMovable } from '../rules/status';
import { formatWall, localToUtc, offsetAt, wallAt } from '../time';

export interface PostEventProps {
  postId: string;
  networks: Network[];
  status: PostStatus;
  tone: string;
  label: string;
  /** A "+N more" summary chip for a crowded day (month view): how many posts it stands for. */
  more?: number;
  /** The summary chip's day, `YYYY-MM-DD`. */
  date?: string;
}

/** The subset of FullCalendar's EventInput this adapter produces. */
export interface PostEvent {
  id: string;
  title: string;
  /** Floating wall-clock time `YYYY-MM-DDTHH:MM:SS` (see the module doc). */
  start: string;
  /** Only the "+N more" chips have one (so they never spill into the next day). */
  end?: string;
  allDay: false;
  editable: boolean;
  backgroundColor: string;
  borderColor: string;
  textColor: string;
  classNames: string[];
  extendedProps: PostEventProps;
}

const pad = (n: number) => String(n).padStart(2, '0');

const DAY = 86_400_000;
// Zone offsets per UTC day: when a zone's offset is the same at both ends of a day, it is that
// offset all day (at most one change a day), so thousands of posts cost a few `Intl` calls.
const dayOffsets = new Map<string, number | null>();

function offsetOnDay(ms: number, zone: string): number | null {
  const day = Math.floor(ms / DAY);
  const key = `${zone}|${day}`;
  let o = dayOffsets.get(key);
  if (o === undefined) {
    const a = offsetAt(day * DAY, zone);
    const b = offsetAt(day * DAY + DAY - 1000, zone);
    o = a === b ? a : null;
    if (dayOffsets.size > 5000) dayOffsets.clear();
    dayOffsets.set(key, o);
  }
  return o;
}

/** The floating wall-clock string FullCalendar is given for an instant in `zone`. */
export function floatingTime(iso: string | number, zone: string): string {
  const ms = typeof iso === 'number' ? iso : Date.parse(iso);
  const offset = offsetOnDay(ms, zone);
  if (offset !== null) return new Date(ms + offset).toISOString().slice(0, 19);
  const w = wallAt(ms, zone);
  return `${formatWall(w)}:${pad(w.second)}`;
}

/** Back from a FullCalendar Date (floating, UTC fields = wall clock) to `YYYY-MM-DDTHH:MM`. */
export function floatingToLocal(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** "now" for FullCalendar: the user's wall clock dressed as UTC. */
export function floatingNow(zone: string, now: number = Date.now()): Date {
  return new Date(`${floatingTime(now, zone)}Z`);
}

/** First line of the post, shortened for a chip. */
export function titleOf(post: Post, max = 60): string {
  const first = post.content.parts[0];
  const raw = (first?.text ?? '').replace(/\s+/g, ' ').trim();
  const text = raw || (first && first.media.length > 0 ? `(${first.media.length} media)` : '(empty)');
  const chars = [...text];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text;
}

export function networksOf(post: Post): Network[] {
  return [...new Set(post.targets.map((t) => t.network))];
}

// Posts are immutable objects (a change replaces the object), so an event can be cached per post.
const cache = new WeakMap<Post, { zone: string; event: PostEvent | null }>();

/** One calendar event for a post, or null when it has no time (an unscheduled draft). */
export function postToEvent(post: Post, zone: string): PostEvent | null {
  const hit = cache.get(post);
  if (hit && hit.zone === zone) return hit.event;
  const event = buildEvent(post, zone);
  cache.set(post, { zone, event });
  return event;
}

function buildEvent(post: Post, zone: string): PostEvent | null {
  if (!post.scheduled_at) return null;
  // A copy a network holds until its time (hand-off) reads as scheduled, not posted.
  const status = shownStatus(post);
  const tone = postTone(status);
  const c = TONE_COLOURS[tone] ?? { bg: '#888', fg: '#fff' };
  const networks = networksOf(post);
  const editable = isMovable(post);
  return {
    id: post.id,
    title: titleOf(post),
    start: floatingTime(post.scheduled_at, zone),
    allDay: false,
    editable,
    backgroundColor: c.bg,
    borderColor: c.bg,
    textColor: c.fg,
    classNames: ['post-chip', `tone-${tone}`, editable ? 'movable' : 'fixed'],
    extendedProps: {
      postId: post.id,
      networks,
      status,
      tone,
      label: `${POST_LABEL[status]} · ${networks.map(displayName).join(', ')}`,
    },
  };
}

export function postsToEvents(posts: Iterable<Post>, zone: string): PostEvent[] {
  const out: PostEvent[] = [];
  for (const p of posts) {
    const e = postToEvent(p, zone);
    if (e) out.push(e);
  }
  return out;
}

/** A floating range as FullCalendar gives it (its Dates' UTC fields are the wall clock). */
export interface FloatingRange {
  start: Date;
  end: Date;
}

const floatingIso = (d: Date) => d.toISOString().slice(0, 19);

/**
 * The events of the visible range only. With `perDay`, a day holding more posts shows the first
 * `perDay` and one "+N more" chip: the month grid stays fast with thousands of posts (it never
 * lays out chips nobody can see), and the chip opens that day's list.
 */
export function eventsForRange(
  posts: Iterable<Post>,
  zone: string,
  range: FloatingRange,
  perDay?: number,
): PostEvent[] {
  const from = floatingIso(range.start);
  const to = floatingIso(range.end);
  const inRange: PostEvent[] = [];
  for (const p of posts) {
    const e = postToEvent(p, zone);
    if (e && e.start >= from && e.start < to) inRange.push(e);
  }
  if (perDay === undefined) return inRange;
  inRange.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: PostEvent[] = [];
  let i = 0;
  while (i < inRange.length) {
    const day = (inRange[i] as PostEvent).start.slice(0, 10);
    let j = i;
    while (j < inRange.length && (inRange[j] as PostEvent).start.slice(0, 10) === day) j++;
    const count = j - i;
    if (count <= perDay) {
      for (let k = i; k < j; k++) out.push(inRange[k] as PostEvent);
    } else {
      for (let k = i; k < i + perDay - 1; k++) out.push(inRange[k] as PostEvent);
      const hidden = inRange.slice(i + perDay - 1, j);
      out.push(moreEvent(day, hidden));
    }
    i = j;
  }
  return out;
}

function moreEvent(day: string, hidden: PostEvent[]): PostEvent {
  const trouble = hidden.filter((e) => e.extendedProps.tone === 'failed' || e.extendedProps.tone === 'attention').length;
  const title = `+${hidden.length} more${trouble ? ` · ${trouble} to check` : ''}`;
  return {
    id: `more:${day}`,
    title,
    start: `${day}T23:58:00`,
    end: `${day}T23:59:00`,
    allDay: false,
    editable: false,
    backgroundColor: 'transparent',
    borderColor: 'transparent',
    textColor: 'inherit',
    classNames: ['more-chip', trouble ? 'more-trouble' : 'more-plain'],
    extendedProps: {
      postId: '',
      networks: [],
      status: 'scheduled',
      tone: 'more',
      label: `${hidden.length} more posts on ${day}${trouble ? `, ${trouble} failed or waiting for you` : ''} — open the day's list`,
      more: hidden.length,
      date: day,
    },
  };
}

export type DropResult = { ok: true; post: Post } | { ok: false; message: string };

/**
 * A chip was dropped on a new time: check it may move, convert the floating time in `zone` to
 * an instant, and ask the backend. The caller reverts the chip when `ok` is false.
 */
export async function dropToReschedule(
  backend: Pick<Backend, 'reschedulePost'>,
  post: Post,
  newStart: Date,
  zone: string,
): Promise<DropResult> {
  const why = whyNotMovable(post);
  if (why) return { ok: false, message: `This post cannot be moved. ${why}` };
  const local = floatingToLocal(newStart);
  const r = localToUtc(local, zone);
  if ('error' in r) return { ok: false, message: r.error };
  try {
    return { ok: true, post: await backend.reschedulePost(post.id, r.ok) };
  } catch (e) {
    return { ok: false, message: errorMessage(e) };
  }
}
