//! Post and target states as the UI shows them: labels, colours, and what may be done.

import type { Post } from '../bindings/Post';
import type { PostStatus } from '../bindings/PostStatus';
import type { Target } from '../bindings/Target';
import type { TargetState } from '../bindings/TargetState';

const LEASED: readonly TargetState[] = ['claimed', 'sending', 'processing'];

export const isLeased = (s: TargetState): boolean => LEASED.includes(s);

/** A post's state from its targets' states (mirror of `derive_post_status` in model.rs). */
export function derivePostStatus(states: TargetState[]): PostStatus {
  if (states.length === 0 || states.every((s) => s === 'draft')) return 'draft';
  const count = (f: (s: TargetState) => boolean) => states.filter(f).length;
  const published = count((s) => s === 'published');
  const cancelled = count((s) => s === 'cancelled');
  const failed = count((s) => s === 'failed');
  const attention = count((s) => s === 'unconfirmed' || s === 'missed');
  const active = count(isLeased);
  const waiting = count((s) => s === 'scheduled' || s === 'draft');
  if (cancelled === states.length) return 'cancelled';
  if (active > 0) return 'publishing';
  if (waiting > 0) return published > 0 ? 'publishing' : 'scheduled';
  if (attention > 0) return 'needs_attention';
  if (published + cancelled === states.length) return 'published';
  if (published > 0) return 'partially_published';
  if (failed > 0) return 'failed';
  return 'cancelled';
}

/**
 * When a network holds this published target until a time still ahead (hand-off: Facebook's
 * `scheduled_publish_time`, YouTube's `publishAt`; the engine's `extra.scheduled_on_network`).
 */
export function heldUntil(t: Pick<Target, 'state' | 'progress'>, now: number = Date.now()): number | null {
  if (t.state !== 'published') return null;
  const extra = t.progress[0]?.extra as { scheduled_on_network?: unknown } | null | undefined;
  const at = extra && typeof extra.scheduled_on_network === 'string' ? Date.parse(extra.scheduled_on_network) : NaN;
  return Number.isFinite(at) && at > now ? at : null;
}

/** The post's status as the user reads it: a copy a network holds until its time counts as scheduled. */
export function shownStatus(post: Pick<Post, 'targets' | 'status'>, now: number = Date.now()): PostStatus {
  if (!post.targets.some((t) => t.state === 'published' && t.progress[0]?.extra)) return post.status;
  return derivePostStatus(post.targets.map((t) => (heldUntil(t, now) !== null ? 'scheduled' : t.state)));
}

/** Target states from which a post may be moved on the calendar or edited. */
export const MOVABLE: readonly TargetState[] = ['scheduled', 'draft', 'missed', 'failed'];

/**
 * A post may be dragged/edited only when every network is still waiting, missed or failed — or
 * holds the post until its time (the engine then changes it there too).
 */
export function isMovable(post: Pick<Post, 'targets'>, now: number = Date.now()): boolean {
  return post.targets.length > 0 && post.targets.every((t) => MOVABLE.includes(t.state) || heldUntil(t, now) !== null);
}

/** Why a post cannot be moved, in the user's words (null when it can). */
export function whyNotMovable(post: Pick<Post, 'targets' | 'status'>, now: number = Date.now()): string | null {
  if (isMovable(post, now)) return null;
  if (post.targets.some((t) => isLeased(t.state))) return 'It is being posted right now — wait until it finishes.';
  if (post.targets.some((t) => t.state === 'published' && heldUntil(t, now) === null)) {
    return 'It is already published — a published post cannot be moved. Duplicate it to post again.';
  }
  if (post.targets.some((t) => t.state === 'unconfirmed')) {
    return 'It may already be published — choose "It was posted" or "Post again" first.';
  }
  if (post.status === 'cancelled') return 'It was cancelled.';
  return 'It cannot be moved in its current state.';
}

export const TARGET_LABEL: Record<TargetState, string> = {
  draft: 'Draft',
  scheduled: 'Scheduled',
  claimed: 'Posting',
  sending: 'Posting',
  processing: 'Processing',
  published: 'Posted',
  failed: 'Failed',
  unconfirmed: 'Unconfirmed',
  missed: 'Missed',
  cancelled: 'Cancelled',
};

export const POST_LABEL: Record<PostStatus, string> = {
  draft: 'Draft',
  scheduled: 'Scheduled',
  publishing: 'Posting',
  published: 'Posted',
  partially_published: 'Partly posted',
  needs_attention: 'Needs attention',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** Colour key of a target state (CSS custom property suffix: `--state-<key>`). */
export function targetTone(s: TargetState): string {
  switch (s) {
    case 'draft':
      return 'draft';
    case 'scheduled':
      return 'scheduled';
    case 'claimed':
    case 'sending':
    case 'processing':
      return 'posting';
    case 'published':
      return 'posted';
    case 'failed':
      return 'failed';
    case 'unconfirmed':
    case 'missed':
      return 'attention';
    case 'cancelled':
      return 'cancelled';
  }
}

export function postTone(s: PostStatus): string {
  switch (s) {
    case 'draft':
      return 'draft';
    case 'scheduled':
      return 'scheduled';
    case 'publishing':
      return 'posting';
    case 'published':
      return 'posted';
    case 'partially_published':
      return 'partial';
    case 'needs_attention':
      return 'attention';
    case 'failed':
      return 'failed';
    case 'cancelled':
      return 'cancelled';
  }
}

/** Chip colours for the calendar (background, text), light enough for both themes. */
export const TONE_COLOURS: Record<string, { bg: string; fg: string }> = {
  draft: { bg: '#8b8fa3', fg: '#ffffff' },
  scheduled: { bg: '#2f6fdf', fg: '#ffffff' },
  posting: { bg: '#c98a00', fg: '#1b1300' },
  posted: { bg: '#1f8a4c', fg: '#ffffff' },
  partial: { bg: '#6b8e23', fg: '#ffffff' },
  attention: { bg: '#d9641e', fg: '#ffffff' },
  failed: { bg: '#c62828', fg: '#ffffff' },
  cancelled: { bg: '#9e9e9e', fg: '#1d1d1d' },
};
