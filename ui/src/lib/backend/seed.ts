//! Seeds for the memory backend: `?seed=demo` (a few accounts and posts in every state) and
//! `?seed=bulk&count=N` (N posts spread over the current month, for the render benchmark).

import type { Account } from '../bindings/Account';
import type { PostContent } from '../bindings/PostContent';
import type { TargetState } from '../bindings/TargetState';
import { resolveLocal, wallAt, formatWall } from '../time';
import { TIKTOK_NOTICES, type MemoryBackend } from './memoryBackend';

const text = (t: string, media: PostContent['parts'][number]['media'] = []): PostContent => ({
  parts: [{ text: t, media }],
  variants: {},
  first_comment: null,
  options: {},
});

/** The instant of wall-clock `HH:MM` on the day `dayOffset` days from today, in `zone`. */
export function atLocal(now: number, zone: string, dayOffset: number, hhmm: string): number {
  const w = wallAt(now + dayOffset * 86_400_000, zone);
  const local = `${formatWall(w).slice(0, 10)}T${hhmm}`;
  const r = resolveLocal(local, zone);
  if (r.kind === 'single') return r.ms;
  if (r.kind === 'ambiguous') return r.first;
  return now + dayOffset * 86_400_000;
}

export interface DemoAccounts {
  alice: Account;
  studio: Account;
  x: Account;
  threads: Account;
  instagram: Account;
  pinterest: Account;
  linkedin: Account;
  facebook: Account;
  tiktok: Account;
  youtube: Account;
}

export function seedDemo(b: MemoryBackend): DemoAccounts {
  const now = b.now();
  const zone = b.settings.time_zone;
  const created = new Date(now - 30 * 86_400_000).toISOString();
  const alice = b.addAccount({
    id: 'a_alice',
    network: 'bluesky',
    handle: 'alice.bsky.social',
    display_name: 'Alice Martin',
    token_expires_at: new Date(now + 80 * 86_400_000).toISOString(),
    created_at: created,
  });
  const studio = b.addAccount({
    id: 'a_studio',
    network: 'bluesky',
    handle: 'studio.alice.dev',
    display_name: 'Alice’s Studio',
    status: 'needs_reconnect',
    status_reason: 'Bluesky: app password revoked or wrong — reconnect with a new app password',
    settings: { pds: 'https://pds.alice.dev' },
    created_at: created,
  });
  const x = b.addAccount({ id: 'a_x', network: 'x', handle: 'alice_makes', display_name: 'Alice', created_at: created });
  const threads = b.addAccount({ id: 'a_threads', network: 'threads', handle: 'alice.makes', created_at: created });
  const instagram = b.addAccount({ id: 'a_instagram', network: 'instagram', handle: 'alice.makes', created_at: created });
  // No default board: every pin must choose one (Accounts › Default board, or in Compose).
  const pinterest = b.addAccount({ id: 'a_pinterest', network: 'pinterest', handle: 'alicemakes', created_at: created });
  const linkedin = b.addAccount({
    id: 'a_linkedin',
    network: 'linkedin',
    handle: 'alice-martin',
    display_name: 'Alice Martin',
    token_expires_at: new Date(now + 50 * 86_400_000).toISOString(),
    settings: { sub: 'demo-alicemartin' },
    created_at: created,
  });
  // A Facebook Page is one account (the engine picks the Page when connecting).
  const facebook = b.addAccount({
    id: 'a_facebook',
    network: 'facebook',
    handle: 'martinwoodworks',
    display_name: 'Martin Woodworks',
    token_expires_at: new Date(now + 55 * 86_400_000).toISOString(),
    created_at: created,
  });
  // Its demo app is not audited by TikTok yet: "only me", videos up to 10 minutes (DEMO_CHOICES).
  const tiktok = b.addAccount({ id: 'a_tiktok', network: 'tiktok', handle: 'alice.makes', display_name: 'Alice Makes', created_at: created });
  const youtube = b.addAccount({ id: 'a_youtube', network: 'youtube', handle: 'alicemakes', display_name: 'Alice Makes', created_at: created });
  b.quotaUsed.set('x:alice_makes', 100);

  const photo = b.stageMedia({ mime: 'image/jpeg', path: '/Pictures/workbench.jpg', bytes: 412_000, alt: 'A workbench with hand tools' });
  const { thumbnail: _t, duration_secs: _d, ...photoRef } = photo;
  const video = b.stageMedia({ mime: 'video/mp4', path: '/Videos/walnut-table.mp4', bytes: 48_000_000, width: 1080, height: 1920, duration_secs: 312 });
  const { thumbnail: _vt, duration_secs: _vd, ...videoRef } = video;

  const post = (
    id: string,
    content: PostContent,
    at: number | null,
    accounts: Account[],
    states?: TargetState[],
    errors?: (string | null)[],
  ) => b.insertPost({ id, content, at, accounts, states, errors });

  post('p_published', text('New workshop video is up! Building a walnut side table from rough boards https://example.com/table #woodworking'), atLocal(now, zone, -1, '09:00'), [alice], ['published']);
  post('p_failed', text('Spring sale starts today — 20% off every print until Sunday. https://example.com/shop'), atLocal(now, zone, 0, '08:00'), [alice], ['failed'], [
    'Bluesky: the server is unavailable (HTTP 503 NotEnoughResources) — gave up after 6 attempts',
  ]);
  post('p_unconfirmed', text('Behind the scenes: sanding, sanding, and more sanding.'), atLocal(now, zone, -2, '12:15'), [alice], ['unconfirmed'], [
    'Bluesky: the connection dropped after the post was sent, and looking it up failed — check the account\'s posts, then choose "It was posted" or "Post again"',
  ]);
  post('p_missed', text('Good morning! Coffee and sawdust.'), atLocal(now, zone, -3, '07:30'), [alice], ['missed'], [
    'Bluesky: due while Outpost was not running, more than 2 h ago — post it now or reschedule it',
  ]);
  post('p_partial', text('Three finishes compared: oil, wax, and shellac. Which one wins?', [photoRef]), atLocal(now, zone, -4, '17:00'), [alice, x], ['published', 'failed'], [
    null,
    'X: media upload failed (HTTP 400 InvalidMedia: unsupported image format) — convert it to PNG or JPEG, then retry',
  ]);
  post('p_cancelled', text('Livestream tonight!'), atLocal(now, zone, -5, '19:00'), [alice], ['cancelled']);
  post('p_tomorrow', { ...text('Tomorrow: a short guide to sharpening chisels. Bring questions! https://example.com/chisels'), variants: { x: 'Chisel sharpening guide tomorrow 🪚 https://example.com/chisels' }, first_comment: 'Links and tools list in the guide.' }, atLocal(now, zone, 1, '09:30'), [alice, x]);
  post('p_thread', {
    parts: [
      { text: 'A thread on choosing wood for your first project 🧵', media: [] },
      { text: '1/ Start with poplar: cheap, stable, easy to work.', media: [] },
      { text: '2/ Move to walnut or cherry when you want something to keep.', media: [] },
    ],
    variants: {},
    first_comment: null,
    options: {},
  }, atLocal(now, zone, 3, '18:00'), [alice, threads]);
  post('p_nextweek', text('Finished piece: the walnut side table in its new home.', [photoRef]), atLocal(now, zone, 7, '10:00'), [alice]);
  post('p_draft', text('Idea: a series on hand-cut joinery. Dovetails first?'), null, [alice], ['draft']);
  // Handed off: YouTube holds the video until its time (it goes public then, even with Outpost closed).
  const premiere = atLocal(now, zone, 2, '18:00');
  const premiereIso = new Date(premiere).toISOString();
  b.insertPost({
    id: 'p_youtube_held',
    content: {
      ...text('Building a walnut side table, start to finish\nRough boards to oil finish in 5 minutes.', [videoRef]),
      options: { 'youtube:alicemakes': { title: 'Walnut side table, start to finish', made_for_kids: false, tags: ['woodworking', 'walnut'] } },
    },
    at: premiere,
    accounts: [youtube],
    states: ['published'],
    extras: [
      {
        privacy: 'private',
        scheduled_on_network: premiereIso.replace(/\.\d{3}Z$/, 'Z'),
        notice: `scheduled on YouTube for ${premiereIso.slice(0, 10)} ${premiereIso.slice(11, 16)} UTC`,
      },
    ],
  });
  // Published privately: the demo TikTok app is not audited yet (the engine's notice).
  b.insertPost({
    id: 'p_tiktok_private',
    content: {
      ...text('Oil finish, one coat at a time #woodworking', [videoRef]),
      options: { 'tiktok:alice.makes': { privacy_level: 'SELF_ONLY' } },
    },
    at: atLocal(now, zone, -1, '16:00'),
    accounts: [tiktok],
    states: ['published'],
    extras: [{ publish_id: 'v_pub_file~v2-1.7390000000000000001', mode: 'direct', privacy_level: 'SELF_ONLY', notice: TIKTOK_NOTICES.unaudited }],
  });
  return { alice, studio, x, threads, instagram, pinterest, linkedin, facebook, tiktok, youtube };
}

/** `count` scheduled posts spread over the month of `now` (in the backend's zone). */
export function seedBulk(b: MemoryBackend, count: number): void {
  const now = b.now();
  const zone = b.settings.time_zone;
  const alice =
    [...b.accounts.values()].find((a) => a.handle === 'alice.bsky.social') ??
    b.addAccount({ id: 'a_alice', network: 'bluesky', handle: 'alice.bsky.social', display_name: 'Alice Martin' });
  const x = [...b.accounts.values()].find((a) => a.network === 'x') ?? b.addAccount({ id: 'a_x', network: 'x', handle: 'alice_makes' });
  const w = wallAt(now, zone);
  const days = new Date(Date.UTC(w.year, w.month, 0)).getUTCDate();
  const states: TargetState[] = ['scheduled', 'scheduled', 'scheduled', 'published', 'failed', 'scheduled', 'missed'];
  for (let i = 0; i < count; i++) {
    const day = (i % days) + 1;
    const minute = (i * 7) % (14 * 60);
    const hh = String(8 + Math.floor(minute / 60)).padStart(2, '0');
    const mm = String(minute % 60).padStart(2, '0');
    const local = `${String(w.year).padStart(4, '0')}-${String(w.month).padStart(2, '0')}-${String(day).padStart(2, '0')}T${hh}:${mm}`;
    const r = resolveLocal(local, zone);
    const at = r.kind === 'single' ? r.ms : r.kind === 'ambiguous' ? r.first : now;
    const state = states[i % states.length] ?? 'scheduled';
    b.insertPost({
      content: text(`Bulk post ${i + 1}: notes from the workshop`),
      at,
      accounts: i % 3 === 0 ? [alice, x] : [alice],
      states: i % 3 === 0 ? [state, 'scheduled'] : [state],
      errors: state === 'failed' ? ['Bluesky: the server is unavailable (HTTP 503 NotEnoughResources) — gave up after 6 attempts', null] : undefined,
    });
  }
}
