//! A test double of the engine that keeps everything in memory: posts and their targets, the
//! attempts log, accounts, settings, app credentials and staged media. It validates with the
//! same rules module as Compose and runs a pretend dispatcher (due targets go
//! `scheduled → sending → published` over two ticks), with scripted failures that produce the
//! failed and unconfirmed cards the real engine would. Used by `npm run dev` and every test.
//! It must never be shipped as the app's backend: `index.ts` picks Tauri when it is there.

import type { Account } from '../bindings/Account';
import type { AccountChoice } from '../bindings/AccountChoice';
import type { AppCredentials } from '../bindings/AppCredentials';
import type { StagingKeys } from '../bindings/StagingKeys';
import type { StagingSettings } from '../bindings/StagingSettings';
import type { Attempt } from '../bindings/Attempt';
import type { ConnectResult } from '../bindings/ConnectResult';
import type { ConnectStart } from '../bindings/ConnectStart';
import type { Draft } from '../bindings/Draft';
import type { Event } from '../bindings/Event';
import type { Finding } from '../bindings/Finding';
import type { MediaRef } from '../bindings/MediaRef';
import type { Network } from '../bindings/Network';
import type { Post } from '../bindings/Post';
import type { PostContent } from '../bindings/PostContent';
import type { PostDetail } from '../bindings/PostDetail';
import type { PostFilter } from '../bindings/PostFilter';
import type { QuotaUsage } from '../bindings/QuotaUsage';
import type { Settings } from '../bindings/Settings';
import type { StagedMedia } from '../bindings/StagedMedia';
import type { StatusReport } from '../bindings/StatusReport';
import type { Target } from '../bindings/Target';
import type { TargetState } from '../bindings/TargetState';
import { AVAILABLE_NETWORKS, displayName, OAUTH_NETWORKS } from '../rules/limits';
import type { JsonValue } from '../bindings/serde_json/JsonValue';
import { derivePostStatus, heldUntil, MOVABLE } from '../rules/status';
import {
  accountAddress,
  applyAccountDefaults,
  checkAll,
  creatorInfoOf,
  FB_HOLD_MIN_MS,
  fileName,
  isImage,
  isVideo,
  optionFlag,
  optionsFor,
  type CreatorInfo,
} from '../rules/validate';
import { localToUtc, systemZone } from '../time';
import { BackendError, type Backend, type BlueskyLogin } from './backend';

/** What a scripted failure does to the next attempt on an account. */
export type FailureMode = 'failed' | 'unconfirmed' | 'reauth' | 'rate_limited';

export interface MemoryOptions {
  /** The clock (ms since the epoch); tests pass a manual one. */
  now?: () => number;
  /** Dispatcher tick in ms; 0 disables the timer (call `tick()` by hand). */
  tickMs?: number;
  /** false simulates "no dispatcher running". */
  runner?: boolean;
  zone?: string;
  /** How long `finishConnect` waits for the browser (the engine: 5 minutes). */
  connectTimeoutMs?: number;
  /** Demo: the pretend browser approves every connect attempt after this many ms. */
  autoApproveMs?: number;
}

/** How a network's sign-in page may send the browser back (outpost-auth `RedirectRule`). */
type Redirect = { kind: 'fixed'; port: number } | { kind: 'any' } | { kind: 'https' };

interface OAuthProfile {
  authorize: string;
  scopes: string[];
  separator: string;
  redirect: Redirect;
  /** The loopback path (`/callback`; TikTok `/callback/`). */
  path: string;
  /** The authorisation request's client id parameter (TikTok: `client_key`). */
  clientIdParam: string;
  pkce: boolean;
  needsSecret: boolean;
  tokenSecs: number;
}

const base = { separator: ' ', path: '/callback', clientIdParam: 'client_id', pkce: false, needsSecret: true };

/**
 * The engine's OAuth profiles (outpost-networks): where the user consents, what Outpost asks
 * for, the registered redirect, and how long an access token lasts.
 */
const OAUTH: Partial<Record<Network, OAuthProfile>> = {
  x: {
    ...base,
    authorize: 'https://x.com/i/oauth2/authorize',
    scopes: ['tweet.read', 'tweet.write', 'users.read', 'offline.access', 'media.write'],
    redirect: { kind: 'fixed', port: 8723 },
    pkce: true,
    needsSecret: false,
    tokenSecs: 7200,
  },
  linkedin: {
    ...base,
    authorize: 'https://www.linkedin.com/oauth/v2/authorization',
    scopes: ['openid', 'profile', 'w_member_social'],
    redirect: { kind: 'fixed', port: 8724 },
    tokenSecs: 60 * 86_400,
  },
  pinterest: {
    ...base,
    authorize: 'https://www.pinterest.com/oauth/',
    scopes: ['boards:read', 'boards:write', 'pins:read', 'pins:write', 'user_accounts:read'],
    separator: ',',
    redirect: { kind: 'fixed', port: 8725 },
    tokenSecs: 30 * 86_400,
  },
  facebook: {
    ...base,
    authorize: 'https://www.facebook.com/v27.0/dialog/oauth',
    scopes: ['pages_show_list', 'pages_manage_posts', 'pages_read_engagement', 'pages_manage_engagement'],
    separator: ',',
    redirect: { kind: 'https' },
    tokenSecs: 60 * 86_400,
  },
  instagram: {
    ...base,
    authorize: 'https://www.instagram.com/oauth/authorize',
    scopes: ['instagram_business_basic', 'instagram_business_content_publish', 'instagram_business_manage_comments'],
    separator: ',',
    redirect: { kind: 'https' },
    tokenSecs: 60 * 86_400,
  },
  threads: {
    ...base,
    authorize: 'https://threads.net/oauth/authorize',
    scopes: ['threads_basic', 'threads_content_publish'],
    separator: ',',
    redirect: { kind: 'https' },
    tokenSecs: 60 * 86_400,
  },
  tiktok: {
    ...base,
    authorize: 'https://www.tiktok.com/v2/auth/authorize/',
    scopes: ['user.info.basic', 'video.upload', 'video.publish'],
    separator: ',',
    // The engine's TikTok profile takes a loopback address on any port (Login Kit for Desktop).
    redirect: { kind: 'any' },
    path: '/callback/',
    clientIdParam: 'client_key',
    pkce: true,
    tokenSecs: 86_400,
  },
  youtube: {
    ...base,
    authorize: 'https://accounts.google.com/o/oauth2/v2/auth',
    scopes: ['https://www.googleapis.com/auth/youtube.upload', 'https://www.googleapis.com/auth/youtube.readonly'],
    redirect: { kind: 'any' },
    pkce: true,
    tokenSecs: 3600,
  },
};

/** The engine's words on a post TikTok published privately / sent to the inbox (outpost-networks tiktok.rs). */
export const TIKTOK_NOTICES = {
  unaudited: 'TikTok: this app is not audited yet, so the video was posted privately (only you can see it)',
  unauditedPhotos: 'TikTok: this app is not audited yet, so the photos were posted privately (only you can see them)',
  inbox: 'TikTok: the video was sent to your TikTok inbox as a draft — open the TikTok app to finish posting it',
  inboxPhotos: 'TikTok: the photos were sent to your TikTok inbox as a draft — open the TikTok app to finish posting them',
} as const;

/** Demo boards and pages, as `accountChoices` lists them (board ids are digits, as Pinterest's). */
export const DEMO_CHOICES: Partial<Record<Network, Record<string, AccountChoice[]>>> = {
  // A Facebook sign-in's Pages (accountChoices 'pages'); each connected Page is an account.
  facebook: {
    pages: [
      { id: '104000000001', name: "Ada's Bakery", extra: { username: 'adasbakery', can_post: true } },
      { id: '104000000002', name: "Ada's Cafe", extra: { username: 'adascafe', can_post: true } },
    ],
  },
  // The engine reads Instagram's `content_publishing_limit` (accountChoices 'quota').
  instagram: {
    quota: [{ id: 'content_publishing_limit', name: '3 of 100 posts in 24 h', extra: { quota_usage: 3, quota_total: 100 } }],
  },
  pinterest: {
    boards: [
      { id: '549755885175', name: 'Workshop projects', extra: { privacy: 'PUBLIC' } },
      { id: '549755885176', name: 'Wood finishes', extra: { privacy: 'PUBLIC' } },
      { id: '549755885177', name: 'Ideas for later', extra: { privacy: 'SECRET' } },
    ],
  },
  linkedin: {
    organizations: [
      { id: 'urn:li:organization:2414183', name: 'Martin Woodworks', extra: { role: 'ADMINISTRATOR' } },
      { id: 'urn:li:organization:5550017', name: 'Makers Guild Berlin', extra: { role: 'CONTENT_ADMINISTRATOR' } },
    ],
  },
  // An app TikTok has not audited yet: "only me", videos up to 10 minutes.
  tiktok: {
    creator_info: [
      { id: 'SELF_ONLY', name: 'Only me', extra: null },
      { id: 'max_video_post_duration_sec', name: 'Longest video', extra: { value: 600 } },
    ],
  },
};

/** One connect attempt waiting for the (pretend) browser. */
interface ConnectSlot {
  network: Network;
  state: string;
  clientId: string;
  /** Set once `finishConnect` runs. */
  waiter: { resolve: (r: ConnectResult) => void; reject: (e: BackendError) => void } | null;
  /** An approval that came before `finishConnect` was called. */
  early: { handle: string } | { error: BackendError } | null;
  timers: ReturnType<typeof setTimeout>[];
}

function randomState(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
export function newId(prefix: string): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  let tail = '';
  for (const b of bytes) tail += ID_ALPHABET[b % 32];
  return `${prefix}_${tail}`;
}

const LEASED: readonly TargetState[] = ['claimed', 'sending', 'processing'];

const clone = <T>(v: T): T => structuredClone(v);

/** A coloured square as an SVG data URL: demo thumbnails without any file. */
export function swatch(hue: number, label: string): string {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue},70%,60%)"/><stop offset="1" stop-color="hsl(${(hue + 50) % 360},70%,40%)"/></linearGradient></defs><rect width="120" height="120" fill="url(#g)"/><text x="60" y="68" font-family="sans-serif" font-size="20" fill="white" text-anchor="middle">${label}</text></svg>`;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

function sniffMime(head: Uint8Array, fallback: string): string {
  const b = (i: number) => head[i] ?? -1;
  if (b(0) === 0x89 && b(1) === 0x50 && b(2) === 0x4e && b(3) === 0x47) return 'image/png';
  if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'image/jpeg';
  if (b(0) === 0x47 && b(1) === 0x49 && b(2) === 0x46) return 'image/gif';
  if (b(0) === 0x52 && b(1) === 0x49 && b(8) === 0x57 && b(9) === 0x45) return 'image/webp';
  if (b(4) === 0x66 && b(5) === 0x74 && b(6) === 0x79 && b(7) === 0x70) return 'video/mp4';
  return fallback || 'application/octet-stream';
}

function readAsDataUrl(file: Blob): Promise<string | null> {
  return new Promise((resolve) => {
    if (typeof FileReader === 'undefined') return resolve(null);
    const r = new FileReader();
    r.onload = () => resolve(typeof r.result === 'string' ? r.result : null);
    r.onerror = () => resolve(null);
    r.readAsDataURL(file);
  });
}

function videoDuration(file: Blob): Promise<number | null> {
  return new Promise((resolve) => {
    if (typeof document === 'undefined' || typeof URL.createObjectURL !== 'function') return resolve(null);
    const v = document.createElement('video');
    const url = URL.createObjectURL(file);
    const done = (d: number | null) => {
      URL.revokeObjectURL(url);
      resolve(d);
    };
    const timer = setTimeout(() => done(null), 1500);
    v.preload = 'metadata';
    v.onloadedmetadata = () => {
      clearTimeout(timer);
      done(Number.isFinite(v.duration) ? v.duration : null);
    };
    v.onerror = () => {
      clearTimeout(timer);
      done(null);
    };
    v.src = url;
  });
}

const DAILY_QUOTA: Partial<Record<Network, number>> = {
  bluesky: 11_666,
  x: 100,
  linkedin: 150,
  pinterest: 1000,
  facebook: 30,
  instagram: 50,
  threads: 250,
  tiktok: 15,
  youtube: 100,
};

export class MemoryBackend implements Backend {
  readonly kind = 'memory' as const;
  readonly runnerId = 'memory-runner';
  posts = new Map<string, Post>();
  attempts = new Map<string, Attempt[]>();
  accounts = new Map<string, Account>();
  media = new Map<string, StagedMedia>();
  credentials = new Map<Network, AppCredentials & { secret: string | null }>();
  settings: Settings;
  paused = false;
  runner: boolean;
  /** Extra quota usage per account address, on top of what was published (for demos/tests). */
  quotaUsed = new Map<string, number>();
  lastWake: number;
  /** Scripted outcomes of the next attempts, per account id (first in, first used). */
  private failures = new Map<string, FailureMode[]>();
  private listeners = new Set<(e: Event) => void>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private attemptSeq = 1;
  private mediaSeq = 1;
  readonly now: () => number;
  /** Connect attempts in progress, by session. */
  private connects = new Map<string, ConnectSlot>();
  private readonly connectTimeoutMs: number;
  private readonly autoApproveMs: number | null;
  /** Demo: who is signed in on each network's page (the handle a connect ends with; default `me`). */
  signedIn: Partial<Record<Network, string>> = {};
  /** Account-level choices per account id and kind; unset ones fall back to `DEMO_CHOICES`. */
  choices = new Map<string, AccountChoice[]>();

  constructor(opts: MemoryOptions = {}) {
    this.now = opts.now ?? (() => Date.now());
    this.runner = opts.runner ?? true;
    this.settings = {
      time_zone: opts.zone ?? systemZone(),
      catch_up_window_secs: 7200,
      media_keep_days: 30,
      notifications: true,
      start_at_login: false,
    };
    this.lastWake = this.now();
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5 * 60_000;
    this.autoApproveMs = opts.autoApproveMs ?? null;
    const tickMs = opts.tickMs ?? 700;
    if (tickMs > 0 && this.runner) this.timer = setInterval(() => this.tick(), tickMs);
  }

  dispose(): void {
    for (const session of [...this.connects.keys()]) this.endConnect(session);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  // ------------------------------------------------------------------ test hooks

  /** The next attempt on `accountId` ends this way (queue several for several attempts). */
  scriptFailure(accountId: string, mode: FailureMode): void {
    const q = this.failures.get(accountId) ?? [];
    q.push(mode);
    this.failures.set(accountId, q);
  }

  /** The connect attempts in progress: session → the `state` their address carries (tests, demo). */
  pendingConnects(): { session: string; network: Network; state: string }[] {
    return [...this.connects.entries()].map(([session, c]) => ({ session, network: c.network, state: c.state }));
  }

  /** The pretend browser came back with a code: the account `handle` (default: `signedIn`, else `me`) is connected. */
  approve(session: string, handle?: string): void {
    const slot = this.connects.get(session);
    if (!slot) throw new BackendError('invalid_input', 'this connect attempt has ended — start connecting again');
    this.settleConnect(session, { handle: handle ?? this.signedIn[slot.network] ?? 'me' });
  }

  /** The pretend browser came back with `error=access_denied`. */
  decline(session: string): void {
    const slot = this.connects.get(session);
    if (!slot) throw new BackendError('invalid_input', 'this connect attempt has ended — start connecting again');
    const name = displayName(slot.network);
    this.settleConnect(session, {
      error: new BackendError('invalid_input', `${name}: you declined the connection on ${name}'s page, so nothing was connected`),
    });
  }

  addAccount(a: Partial<Account> & Pick<Account, 'network' | 'handle'>): Account {
    const account: Account = {
      id: a.id ?? newId('a'),
      network: a.network,
      handle: a.handle,
      remote_id: a.remote_id ?? (a.network === 'bluesky' ? `did:plc:${a.handle.replace(/\W/g, '').slice(0, 24)}` : null),
      display_name: a.display_name ?? null,
      status: a.status ?? 'active',
      status_reason: a.status_reason ?? null,
      token_expires_at: a.token_expires_at ?? null,
      settings: a.settings ?? {},
      created_at: a.created_at ?? new Date(this.now()).toISOString(),
    };
    this.accounts.set(account.id, account);
    return account;
  }

  /** Registers media as if it had been picked (tests and seeds). */
  stageMedia(m: Partial<StagedMedia> & Pick<StagedMedia, 'mime'>): StagedMedia {
    const n = this.mediaSeq++;
    const ext = m.mime.split('/')[1] ?? 'bin';
    const staged: StagedMedia = {
      path: m.path ?? `/media/file-${n}.${ext}`,
      sha256: m.sha256 ?? n.toString(16).padStart(64, '0'),
      mime: m.mime,
      bytes: m.bytes ?? 200_000,
      width: m.width ?? (m.mime.startsWith('image/') ? 1200 : null),
      height: m.height ?? (m.mime.startsWith('image/') ? 800 : null),
      alt: m.alt ?? null,
      thumbnail: m.thumbnail ?? swatch((n * 67) % 360, ext.toUpperCase()),
      duration_secs: m.duration_secs ?? null,
    };
    this.media.set(staged.path, staged);
    return staged;
  }

  /** Inserts a post as it would be after some history (seeds and tests). */
  insertPost(p: {
    content: PostContent;
    at: number | null;
    accounts: Account[];
    states?: TargetState[];
    errors?: (string | null)[];
    /** What the network said with a published target (`progress[0].extra`: a notice, a hold…). */
    extras?: JsonValue[];
    id?: string;
  }): Post {
    const id = p.id ?? newId('p');
    const created = new Date(Math.min(this.now(), p.at ?? this.now()) - 86_400_000).toISOString();
    const at = p.at === null ? null : new Date(p.at).toISOString();
    const targets: Target[] = p.accounts.map((a, i) => {
      const state = p.states?.[i] ?? 'scheduled';
      const t = this.newTarget(id, a, state, at);
      t.last_error = p.errors?.[i] ?? null;
      if (state === 'failed') t.error_class = 'transient';
      if (state === 'unconfirmed') t.error_class = 'unknown_outcome';
      if (state === 'published') this.markPublished(t, p.extras?.[i] ?? null);
      if (state === 'published' || state === 'failed' || state === 'unconfirmed') {
        t.attempts = state === 'failed' ? 6 : 1;
        t.next_attempt_at = null;
        this.recordAttempt(
          t,
          state === 'published' ? 'succeeded' : state === 'failed' ? 'failed' : 'unknown',
          t.last_error,
          p.at ?? undefined,
        );
      }
      return t;
    });
    const post: Post = {
      id,
      content: clone(p.content),
      scheduled_at: at,
      time_zone: this.settings.time_zone,
      status: 'draft',
      error_summary: null,
      created_at: created,
      updated_at: created,
      targets,
    };
    this.refresh(post);
    this.posts.set(id, post);
    return clone(post);
  }

  // ------------------------------------------------------------------ internals

  private emit(e: Event): void {
    for (const l of [...this.listeners]) l(clone(e));
  }

  private iso(ms: number = this.now()): string {
    return new Date(ms).toISOString();
  }

  private newTarget(postId: string, a: Account, state: TargetState, at: string | null): Target {
    return {
      id: newId('t'),
      post_id: postId,
      account_id: a.id,
      account_address: accountAddress(a),
      network: a.network,
      state,
      due_at: at,
      next_attempt_at: state === 'scheduled' ? at : null,
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
      updated_at: this.iso(),
    };
  }

  private markPublished(t: Target, extra: JsonValue = null): void {
    const rkey = newId('r').slice(2, 15);
    const handle = t.account_address.split(':')[1] ?? 'someone';
    t.state = 'published';
    t.remote_id = t.network === 'bluesky' ? `at://did:plc:${handle.replace(/\W/g, '')}/app.bsky.feed.post/${rkey}` : rkey;
    t.remote_url =
      t.network === 'bluesky'
        ? `https://bsky.app/profile/${handle}/post/${rkey}`
        : t.network === 'x'
          ? `https://x.com/${handle}/status/${rkey}`
          : t.network === 'youtube'
            ? `https://www.youtube.com/watch?v=${rkey}`
            : t.network === 'tiktok'
              ? `https://www.tiktok.com/@${handle}/video/${rkey}`
              : `https://${t.network}.com/${handle}/${rkey}`;
    t.progress = [{ remote_id: t.remote_id, url: t.remote_url, extra }];
    t.last_error = null;
    t.error_class = null;
    t.wait_reason = null;
    t.lease_owner = null;
    t.lease_until = null;
    t.next_attempt_at = null;
  }

  private recordAttempt(t: Target, status: string, message: string | null, at?: number): void {
    const list = this.attempts.get(t.id) ?? [];
    const started = (at ?? this.now()) - 800;
    list.push({
      id: this.attemptSeq++,
      target_id: t.id,
      part_index: 0,
      idem_key: `${t.post_id}:${t.network}:${t.account_id}`,
      try_no: list.length + 1,
      status,
      error_class: t.error_class,
      client_handle: null,
      intent_at: this.iso(started),
      remote_id: t.remote_id,
      message,
      excerpt: null,
      runner: this.runnerId,
      started_at: this.iso(started),
      finished_at: status === 'sending' ? null : this.iso(started + 800),
      duration_ms: status === 'sending' ? null : 800,
    });
    this.attempts.set(t.id, list);
  }

  private refresh(post: Post): void {
    post.status = derivePostStatus(post.targets.map((t) => t.state));
    const errors = post.targets
      .filter((t) => t.state === 'failed' && t.last_error)
      .map((t) => t.last_error as string);
    post.error_summary = errors.length ? errors.join('; ').slice(0, 1000) : null;
    post.updated_at = this.iso();
  }

  private changed(post: Post, t: Target): void {
    t.updated_at = this.iso();
    this.refresh(post);
    this.emit({ type: 'target_changed', post_id: post.id, target: clone(t) });
  }

  private get(id: string): Post {
    const p = this.posts.get(id);
    if (!p) throw new BackendError('not_found', `post ${id} not found — it may have been deleted`);
    return p;
  }

  private contentFromDraft(draft: Draft): PostContent {
    return {
      parts: draft.parts.map((part) => ({
        text: part.text,
        media: part.media.map((dm) => {
          const staged = this.media.get(dm.path);
          if (!staged) {
            throw new BackendError(
              'invalid_input',
              `media: ${fileName(dm.path)} is not in the media library — add it again`,
            );
          }
          const { thumbnail: _t, duration_secs: _d, ...ref } = staged;
          return { ...(ref as MediaRef), alt: dm.alt && dm.alt.trim() !== '' ? dm.alt : null };
        }),
      })),
      variants: clone(draft.variants),
      first_comment: draft.first_comment && draft.first_comment.trim() !== '' ? draft.first_comment : null,
      options: clone(draft.options),
    };
  }

  private accountsFor(ids: string[]): Account[] {
    return ids.map((id) => {
      const a = this.accounts.get(id);
      if (!a) throw new BackendError('not_found', `account ${id} not found — it may have been removed`);
      return a;
    });
  }

  private quotas(): QuotaUsage[] {
    const dayAgo = this.now() - 86_400_000;
    const out: QuotaUsage[] = [];
    for (const a of this.accounts.values()) {
      const address = accountAddress(a);
      let used = this.quotaUsed.get(address) ?? 0;
      for (const p of this.posts.values()) {
        for (const t of p.targets) {
          if (t.account_id === a.id && t.state === 'published' && Date.parse(t.updated_at) >= dayAgo) used++;
        }
      }
      out.push({
        account: address,
        used,
        max: DAILY_QUOTA[a.network] ?? 100,
        window_secs: 86_400,
        source: `${displayName(a.network)}: documented daily cap`,
      });
    }
    return out;
  }

  private durations(): Map<string, number> {
    const m = new Map<string, number>();
    for (const s of this.media.values()) if (s.duration_secs !== null) m.set(s.path, s.duration_secs);
    return m;
  }

  /** An account's choices of one kind: set by a test (`choices`), else the demo's. */
  private choicesFor(a: Account, kind: string): AccountChoice[] {
    return this.choices.get(`${a.id}:${kind}`) ?? DEMO_CHOICES[a.network]?.[kind] ?? [];
  }

  /** TikTok accounts' creator info, as the engine asks TikTok before every post. */
  private creators(accounts: Account[]): Map<string, CreatorInfo> {
    const m = new Map<string, CreatorInfo>();
    for (const a of accounts) if (a.network === 'tiktok') m.set(a.id, creatorInfoOf(this.choicesFor(a, 'creator_info')));
    return m;
  }

  private findings(draft: Draft): Finding[] {
    const content = this.contentFromDraft(draft);
    const accounts = this.accountsFor(draft.account_ids);
    return checkAll(content, { accounts, durations: this.durations(), quotas: this.quotas(), creators: this.creators(accounts) });
  }

  /**
   * Hand-off: the time a network would hold this target until (YouTube `publishAt`, Facebook
   * `scheduled_publish_time`), or null when Outpost publishes it itself at its time. YouTube
   * holds public videos unless `hand_off` is false (explicitly on: any time over a minute ahead;
   * by default: over 5 minutes); Facebook only with `hand_off` and 10 minutes to 30 days ahead.
   */
  private holdAt(post: Post, t: Target, now: number): number | null {
    if (t.due_at === null) return null;
    const at = Date.parse(t.due_at);
    const lead = at - now;
    const o = optionsFor(post.content, t.network, t.account_address);
    if (t.network === 'youtube') {
      const set = o['hand_off'] !== undefined && o['hand_off'] !== null;
      const privacy = String(o['privacy'] ?? o['privacy_status'] ?? 'public').trim().toLowerCase();
      if ((set && !optionFlag(o, 'hand_off', false)) || privacy !== 'public') return null;
      return lead > (set ? 60_000 : 5 * 60_000) ? at : null;
    }
    if (t.network === 'facebook') {
      return optionFlag(o, 'hand_off', false) && lead >= FB_HOLD_MIN_MS && lead <= 30 * 86_400_000 ? at : null;
    }
    return null;
  }

  /** What the network says with a success: its hold (hand-off), or TikTok's notices. */
  private publishedExtra(post: Post, t: Target, now: number): JsonValue {
    const hold = this.holdAt(post, t, now);
    if (hold !== null) {
      const iso = new Date(hold).toISOString();
      const notice = `scheduled on ${displayName(t.network)} for ${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
      const extra: Record<string, JsonValue> = { scheduled_on_network: iso.replace(/\.\d{3}Z$/, 'Z'), notice };
      if (t.network === 'youtube') extra['privacy'] = 'private';
      return extra;
    }
    if (t.network === 'tiktok') {
      const account = this.accounts.get(t.account_id);
      const o = optionsFor(post.content, 'tiktok', t.account_address);
      const photos = !post.content.parts.some((p) => p.media.some(isVideo));
      const publishId = `v_pub_file~v2-1.${newId('r').slice(2)}`;
      if (String(o['mode'] ?? '').toLowerCase() === 'inbox') {
        return { publish_id: publishId, mode: 'inbox', notice: photos ? TIKTOK_NOTICES.inboxPhotos : TIKTOK_NOTICES.inbox };
      }
      const levels = account ? creatorInfoOf(this.choicesFor(account, 'creator_info')).privacyLevels : [];
      const chosen = String(o['privacy_level'] ?? '').toUpperCase();
      if (levels.length > 0 && levels.every((l) => l === 'SELF_ONLY') && chosen !== 'SELF_ONLY') {
        const notice = photos ? TIKTOK_NOTICES.unauditedPhotos : TIKTOK_NOTICES.unaudited;
        return { publish_id: publishId, mode: 'direct', privacy_level: 'SELF_ONLY', notice };
      }
      return { publish_id: publishId, mode: 'direct', privacy_level: chosen || 'SELF_ONLY' };
    }
    return null;
  }

  /** A held copy moved to `at` (the engine's `update_held`): Facebook publishes it now when that is under 10 minutes ahead. */
  private moveHeld(t: Target, at: number): void {
    t.due_at = this.iso(at);
    const part = t.progress[0];
    if (!part) return;
    const { scheduled_on_network: _s, notice: _n, ...rest } = (part.extra ?? {}) as Record<string, JsonValue>;
    if (t.network === 'facebook' && at - this.now() < FB_HOLD_MIN_MS) {
      part.extra = rest;
      return;
    }
    const iso = new Date(at).toISOString();
    part.extra = {
      ...rest,
      scheduled_on_network: iso.replace(/\.\d{3}Z$/, 'Z'),
      notice: `scheduled on ${displayName(t.network)} for ${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`,
    };
  }

  /** Resolves `when` to a UTC instant (null for drafts), with the engine's messages. */
  private resolveWhen(draft: Draft): string | null {
    const w = draft.when;
    if (w.kind === 'draft') return null;
    if (w.kind === 'now') return this.iso();
    // The engine prefixes time errors with the field, as the CLI's `--at` (api.rs `when_to_instant`).
    const r = localToUtc(w.local, w.zone ?? this.settings.time_zone);
    if ('error' in r) throw new BackendError('invalid_input', `--at: ${r.error}`);
    this.checkNotPast(r.ok, '--at: ');
    return r.ok;
  }

  private checkNotPast(iso: string, prefix = ''): void {
    if (Date.parse(iso) < this.now() - 5 * 60_000) {
      throw new BackendError(
        'invalid_input',
        `${prefix}time: ${iso.replace('.000Z', '+00:00')} is in the past — choose a time in the future (up to 5 minutes ago counts as now)`,
      );
    }
  }

  private validateForWrite(draft: Draft): void {
    if (draft.account_ids.length === 0) {
      throw new BackendError('invalid_input', 'accounts: choose at least one account to post to');
    }
    if (draft.when.kind === 'draft') return;
    const errors = this.findings(draft).filter((f) => f.severity === 'error');
    // As the engine: one line per error, with its field.
    if (errors.length) throw new BackendError('invalid_input', errors.map((f) => `${f.message} (${f.field})`).join('\n'));
  }

  private buildTargets(post: Post, draft: Draft, at: string | null): Target[] {
    const state: TargetState = draft.when.kind === 'draft' ? 'draft' : 'scheduled';
    return this.accountsFor(draft.account_ids).map((a) => this.newTarget(post.id, a, state, at));
  }

  private refuseMove(post: Post, verb: string): void {
    for (const t of post.targets) {
      const name = displayName(t.network);
      // A copy the network holds until its time is changed there too (the engine's `update_held`).
      if (t.state === 'published' && heldUntil(t, this.now()) === null) {
        throw new BackendError(
          'conflict',
          `${name} has already published this post — it cannot be ${verb}; duplicate it to post again`,
        );
      }
      if (LEASED.includes(t.state)) {
        throw new BackendError('conflict', `${name} is publishing this post right now — wait until it finishes`);
      }
      if (t.state === 'unconfirmed') {
        throw new BackendError(
          'conflict',
          `${name} may have published this post — choose "It was posted" or "Post again" first`,
        );
      }
      if (t.state === 'cancelled' && post.targets.every((x) => x.state === 'cancelled')) {
        throw new BackendError('conflict', `this post was cancelled — it cannot be ${verb}`);
      }
    }
  }

  private wake(): void {
    if (this.timer) setTimeout(() => this.tick(), 50);
  }

  /**
   * One dispatcher wake: finish what is in flight, claim what is due. Returns how many targets
   * changed. Runs on a timer, or by hand in tests.
   */
  tick(): number {
    if (!this.runner) return 0;
    const now = this.now();
    this.lastWake = now;
    let changes = 0;
    for (const post of this.posts.values()) {
      for (const t of post.targets) {
        if (t.state === 'sending') {
          this.finish(post, t);
          changes++;
        } else if (
          !this.paused &&
          t.state === 'scheduled' &&
          t.next_attempt_at !== null &&
          (Date.parse(t.next_attempt_at) <= now || (t.error_class === null && this.holdAt(post, t, now) !== null))
        ) {
          const account = this.accounts.get(t.account_id);
          if (account && account.status !== 'active') {
            if (t.wait_reason === null) {
              t.wait_reason = `waiting for ${t.account_address} to be reconnected`;
              this.changed(post, t);
            }
            continue;
          }
          t.state = 'sending';
          t.attempts += 1;
          t.wait_reason = null;
          t.lease_owner = this.runnerId;
          t.lease_until = this.iso(now + 60_000);
          this.recordAttempt(t, 'sending', null);
          this.changed(post, t);
          changes++;
        }
      }
    }
    this.emitHealth();
    return changes;
  }

  private finish(post: Post, t: Target): void {
    const queue = this.failures.get(t.account_id);
    const mode = queue?.shift();
    const name = displayName(t.network);
    const last = this.attempts.get(t.id)?.at(-1);
    const close = (status: string, message: string | null) => {
      if (last) {
        last.status = status;
        last.message = message;
        last.error_class = t.error_class;
        last.remote_id = t.remote_id;
        last.finished_at = this.iso();
        last.duration_ms = 800;
      }
    };
    t.lease_owner = null;
    t.lease_until = null;
    switch (mode) {
      case undefined:
        this.markPublished(t, this.publishedExtra(post, t, this.now()));
        close('succeeded', null);
        break;
      case 'failed':
        t.state = 'failed';
        t.error_class = 'transient';
        t.last_error = `${name}: the server is unavailable (HTTP 503 NotEnoughResources) — gave up after 6 attempts`;
        t.attempts = Math.max(t.attempts, 6);
        t.next_attempt_at = null;
        close('failed', t.last_error);
        break;
      case 'unconfirmed':
        t.state = 'unconfirmed';
        t.error_class = 'unknown_outcome';
        t.last_error = `${name}: the connection dropped after the post was sent, and looking it up failed — check the account's posts, then choose "It was posted" or "Post again"`;
        t.next_attempt_at = null;
        close('unknown', t.last_error);
        break;
      case 'reauth': {
        t.state = 'failed';
        t.error_class = 'reauth';
        t.last_error = `${name}: app password revoked or wrong — reconnect ${t.account_address} in Accounts, then retry`;
        t.next_attempt_at = null;
        close('failed', t.last_error);
        const a = this.accounts.get(t.account_id);
        if (a) {
          a.status = 'needs_reconnect';
          a.status_reason = t.last_error;
          this.emit({
            type: 'account_needs_reconnect',
            account_id: a.id,
            network: a.network,
            address: accountAddress(a),
            reason: t.last_error,
          });
        }
        break;
      }
      case 'rate_limited': {
        const until = this.now() + 15 * 60_000;
        t.state = 'scheduled';
        t.error_class = 'rate_limited';
        t.next_attempt_at = this.iso(until);
        t.wait_reason = `rate limited until ${new Date(until).toISOString().slice(11, 16)} UTC`;
        close('failed', `${name}: rate limited (HTTP 429) — Outpost will retry`);
        break;
      }
    }
    this.changed(post, t);
  }

  private emitHealth(): void {
    const s = this.statusNow();
    this.emit({
      type: 'health',
      runner: this.runnerId,
      paused: this.paused,
      last_wake: this.iso(this.lastWake),
      next_due: s.next_due[0]?.at ?? null,
      queue_depth: s.queue_depth,
      in_flight: s.targets['sending'] ?? 0,
    });
  }

  private statusNow(): StatusReport {
    const now = this.now();
    const counts: Record<string, number> = {};
    const upcoming: { post_id: string; account: string; at: string }[] = [];
    let due = 0;
    let inFlight = 0;
    for (const p of this.posts.values()) {
      for (const t of p.targets) {
        counts[t.state] = (counts[t.state] ?? 0) + 1;
        if (LEASED.includes(t.state)) inFlight++;
        if (t.state === 'scheduled' && t.next_attempt_at) {
          if (Date.parse(t.next_attempt_at) <= now) due++;
          upcoming.push({ post_id: p.id, account: t.account_address, at: t.next_attempt_at });
        }
      }
    }
    upcoming.sort((a, b) => a.at.localeCompare(b.at));
    return {
      running: this.runner,
      paused: this.paused,
      runners: this.runner
        ? [
            {
              id: this.runnerId,
              pid: 4242,
              kind: 'app',
              started_at: this.iso(now - 3_600_000),
              heartbeat_at: this.iso(this.lastWake),
              last_wake_at: this.iso(this.lastWake),
              next_due_at: upcoming[0]?.at ?? null,
              queue_depth: due,
              in_flight: inFlight,
              stopped_at: null,
              wakes: 1,
            },
          ]
        : [],
      queue_depth: due,
      next_due: upcoming.slice(0, 3),
      targets: counts,
      open_breakers: [],
      quotas: this.quotas(),
    };
  }

  // ------------------------------------------------------------------ Backend

  async listPosts(filter?: PostFilter): Promise<Post[]> {
    let list = [...this.posts.values()];
    if (filter?.status) list = list.filter((p) => p.status === filter.status);
    if (filter?.from) {
      const from = filter.from;
      list = list.filter((p) => p.scheduled_at !== null && p.scheduled_at >= from);
    }
    if (filter?.to) {
      const to = filter.to;
      list = list.filter((p) => p.scheduled_at !== null && p.scheduled_at < to);
    }
    list.sort((a, b) => (a.scheduled_at ?? a.created_at).localeCompare(b.scheduled_at ?? b.created_at));
    if (filter?.limit) list = list.slice(0, filter.limit);
    return clone(list);
  }

  async getPost(id: string): Promise<PostDetail> {
    const post = this.get(id);
    const attempts: PostDetail['attempts'] = {};
    for (const t of post.targets) attempts[t.id] = this.attempts.get(t.id) ?? [];
    return clone({ post, attempts });
  }

  async checkDraft(draft: Draft): Promise<Finding[]> {
    return clone(this.findings(draft));
  }

  async schedulePost(draft: Draft): Promise<Post> {
    this.validateForWrite(draft);
    const at = this.resolveWhen(draft);
    const id = newId('p');
    const post: Post = {
      id,
      content: applyAccountDefaults(this.contentFromDraft(draft), this.accountsFor(draft.account_ids)),
      scheduled_at: at,
      time_zone: draft.when.kind === 'at' ? (draft.when.zone ?? this.settings.time_zone) : this.settings.time_zone,
      status: 'draft',
      error_summary: null,
      created_at: this.iso(),
      updated_at: this.iso(),
      targets: [],
    };
    post.targets = this.buildTargets(post, draft, at);
    this.refresh(post);
    this.posts.set(id, post);
    for (const t of post.targets) this.emit({ type: 'target_changed', post_id: id, target: clone(t) });
    this.wake();
    return clone(post);
  }

  async updatePost(id: string, draft: Draft): Promise<Post> {
    const post = this.get(id);
    this.refuseMove(post, 'edited');
    this.validateForWrite(draft);
    const at = this.resolveWhen(draft);
    post.content = applyAccountDefaults(this.contentFromDraft(draft), this.accountsFor(draft.account_ids));
    post.scheduled_at = at;
    if (draft.when.kind === 'at') post.time_zone = draft.when.zone ?? this.settings.time_zone;
    // Copies a network holds are updated there (new text, new time), not posted again.
    const held = post.targets.filter((t) => heldUntil(t, this.now()) !== null);
    post.targets = this.buildTargets(post, draft, at).map((fresh) => {
      const kept = held.find((h) => h.account_id === fresh.account_id);
      if (!kept) return fresh;
      if (at !== null) this.moveHeld(kept, Date.parse(at));
      return kept;
    });
    this.refresh(post);
    for (const t of post.targets) this.emit({ type: 'target_changed', post_id: id, target: clone(t) });
    this.wake();
    return clone(post);
  }

  async reschedulePost(id: string, atIso: string): Promise<Post> {
    const post = this.get(id);
    const ms = Date.parse(atIso);
    if (Number.isNaN(ms)) {
      throw new BackendError(
        'invalid_input',
        `time: '${atIso}' is not a time Outpost understands — use RFC 3339 (2026-12-01T09:30:00+01:00) or local time (2026-12-01 09:30)`,
      );
    }
    this.refuseMove(post, 'moved');
    const at = this.iso(ms);
    this.checkNotPast(at);
    post.scheduled_at = at;
    for (const t of post.targets) {
      if (heldUntil(t, this.now()) !== null) {
        this.moveHeld(t, ms);
        this.changed(post, t);
        continue;
      }
      if (!MOVABLE.includes(t.state)) continue;
      t.due_at = at;
      if (t.state !== 'draft') {
        t.state = 'scheduled';
        t.next_attempt_at = at;
        t.last_error = null;
        t.error_class = null;
        t.wait_reason = null;
      }
      this.changed(post, t);
    }
    this.wake();
    return clone(post);
  }

  async cancelPost(id: string): Promise<Post> {
    const post = this.get(id);
    // A copy a network holds until its time is deleted there (the engine's `delete_held`).
    const open = post.targets.filter(
      (t) => ['scheduled', 'draft', 'missed', 'failed', 'unconfirmed'].includes(t.state) || heldUntil(t, this.now()) !== null,
    );
    const busy = post.targets.find((t) => LEASED.includes(t.state));
    if (busy) {
      throw new BackendError(
        'conflict',
        `${displayName(busy.network)} is publishing this post right now — wait until it finishes`,
      );
    }
    if (open.length === 0) {
      throw new BackendError('conflict', 'nothing to cancel — every network has published or cancelled this post');
    }
    for (const t of open) {
      t.state = 'cancelled';
      t.next_attempt_at = null;
      t.wait_reason = null;
      this.changed(post, t);
    }
    return clone(post);
  }

  async retryPost(id: string, accountId?: string | null): Promise<Post> {
    const post = this.get(id);
    const again = post.targets.filter(
      (t) => ['failed', 'missed', 'unconfirmed'].includes(t.state) && (!accountId || t.account_id === accountId),
    );
    if (again.length === 0) {
      throw new BackendError('conflict', 'nothing to retry — no network of this post failed, was missed or is unconfirmed');
    }
    for (const t of again) {
      const a = this.accounts.get(t.account_id);
      if (a && a.status === 'needs_reconnect') {
        throw new BackendError(
          'conflict',
          `${accountAddress(a)} needs reconnecting — reconnect it in Accounts, then retry`,
        );
      }
    }
    const now = this.iso();
    for (const t of again) {
      t.state = 'scheduled';
      t.next_attempt_at = now;
      t.attempts = 0;
      t.last_error = null;
      t.error_class = null;
      t.wait_reason = null;
      this.changed(post, t);
    }
    this.wake();
    return clone(post);
  }

  async confirmPosted(id: string, accountId: string): Promise<Post> {
    const post = this.get(id);
    const t = post.targets.find((x) => x.account_id === accountId);
    if (!t) throw new BackendError('not_found', `this post does not go to account ${accountId}`);
    if (t.state !== 'unconfirmed') {
      throw new BackendError('conflict', `${displayName(t.network)} is ${t.state}, not unconfirmed — nothing to confirm`);
    }
    t.state = 'published';
    t.last_error = null;
    t.error_class = null;
    const last = this.attempts.get(t.id)?.at(-1);
    if (last) last.status = 'confirmed_by_user';
    this.changed(post, t);
    return clone(post);
  }

  async deletePost(id: string): Promise<void> {
    const post = this.get(id);
    const busy = post.targets.find((t) => LEASED.includes(t.state));
    if (busy) {
      throw new BackendError(
        'conflict',
        `${displayName(busy.network)} is publishing this post right now — wait until it finishes`,
      );
    }
    for (const t of post.targets) this.attempts.delete(t.id);
    this.posts.delete(id);
    this.emitHealth();
  }

  async listAccounts(): Promise<Account[]> {
    return clone([...this.accounts.values()].sort((a, b) => a.created_at.localeCompare(b.created_at)));
  }

  async connectBluesky(login: BlueskyLogin): Promise<ConnectResult> {
    const handle = login.handle.trim().replace(/^@/, '').toLowerCase();
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(handle)) {
      throw new BackendError(
        'invalid_input',
        `handle: '${login.handle}' is not a Bluesky handle — it looks like alice.bsky.social (no @, no spaces)`,
      );
    }
    if (!/^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/.test(login.appPassword.trim())) {
      throw new BackendError(
        'invalid_input',
        'app password: Bluesky app passwords look like xxxx-xxxx-xxxx-xxxx — create one in Bluesky under Settings → Privacy and security → App passwords',
      );
    }
    const pds = login.pds?.trim() || null;
    if (pds && !/^https?:\/\/[^\s/]+/.test(pds)) {
      throw new BackendError('invalid_input', `PDS URL: '${pds}' is not a URL — it looks like https://pds.example.com`);
    }
    if (login.appPassword.trim() === 'bad0-bad0-bad0-bad0') {
      throw new BackendError('failed', 'Bluesky: could not log in (AuthenticationRequired: Invalid identifier or password) — check the handle and the app password');
    }
    const existing = [...this.accounts.values()].find((a) => a.network === 'bluesky' && a.handle === handle);
    if (existing) {
      existing.status = 'active';
      existing.status_reason = null;
      existing.settings = pds ? { pds } : {};
      for (const p of this.posts.values()) {
        for (const t of p.targets) {
          if (t.account_id === existing.id && t.wait_reason?.startsWith('waiting for')) {
            t.wait_reason = null;
            this.changed(p, t);
          }
        }
      }
      return { account: clone(existing), reconnected: true };
    }
    const account = this.addAccount({
      network: 'bluesky',
      handle,
      display_name: null,
      settings: pds ? { pds } : {},
    });
    return { account: clone(account), reconnected: false };
  }

  async removeAccount(id: string): Promise<void> {
    const a = this.accounts.get(id);
    if (!a) throw new BackendError('not_found', `account ${id} not found — it may have been removed already`);
    const pending = [...this.posts.values()].filter((p) =>
      p.targets.some((t) => t.account_id === id && (t.state === 'scheduled' || LEASED.includes(t.state))),
    ).length;
    if (pending > 0) {
      throw new BackendError(
        'conflict',
        `${accountAddress(a)} has ${pending} scheduled post${pending === 1 ? '' : 's'} — cancel them or remove the account from them first`,
      );
    }
    this.accounts.delete(id);
  }

  async getStatus(): Promise<StatusReport> {
    return clone(this.statusNow());
  }

  async pause(): Promise<void> {
    this.paused = true;
    this.emitHealth();
  }

  async resume(): Promise<void> {
    this.paused = false;
    this.emitHealth();
    this.wake();
  }

  async getSettings(): Promise<Settings> {
    return clone(this.settings);
  }

  async saveSettings(s: Settings): Promise<Settings> {
    try {
      new Intl.DateTimeFormat('en', { timeZone: s.time_zone });
    } catch {
      throw new BackendError(
        'invalid_input',
        `time zone: '${s.time_zone}' is not an IANA time zone name (for example Europe/Berlin or America/New_York)`,
      );
    }
    if (!Number.isInteger(s.catch_up_window_secs) || s.catch_up_window_secs < 0 || s.catch_up_window_secs > 7 * 86_400) {
      throw new BackendError('invalid_input', 'catch-up window: choose between 0 and 168 hours');
    }
    if (!Number.isInteger(s.media_keep_days) || s.media_keep_days < 1 || s.media_keep_days > 3650) {
      throw new BackendError('invalid_input', 'media clean-up: keep unused files between 1 and 3650 days');
    }
    this.settings = clone(s);
    return clone(this.settings);
  }

  staging: (StagingSettings & { keys: StagingKeys | null }) | null = null;

  async getStaging(): Promise<StagingSettings | null> {
    if (this.staging === null) return null;
    const { keys: _k, ...s } = this.staging;
    return { ...clone(s), keys_set: this.staging.keys !== null };
  }

  /** The demo's stand-in for the engine's bucket check: the same messages for the same mistakes. */
  async testStaging(settings: StagingSettings, keys: StagingKeys | null): Promise<void> {
    if (settings.bucket.trim() === '') throw new BackendError('invalid_input', 'staging: the bucket name is empty');
    if (!/^https?:\/\//.test(settings.endpoint.trim())) {
      throw new BackendError(
        'invalid_input',
        `staging: the endpoint "${settings.endpoint}" is not a URL; enter it like https://s3.eu-central-1.amazonaws.com`,
      );
    }
    const k = keys ?? this.staging?.keys ?? null;
    if (k === null) throw new BackendError('invalid_input', 'staging: no access key ID is saved — enter the keys');
    if (k.secret_access_key.startsWith('wrong')) {
      throw new BackendError(
        'invalid_input',
        'staging: the bucket refused the keys (SignatureDoesNotMatch) — check the access key ID and secret in Settings › Media staging',
      );
    }
  }

  async saveStaging(settings: StagingSettings, keys: StagingKeys | null): Promise<StagingSettings> {
    await this.testStaging(settings, keys);
    this.staging = { ...clone(settings), keys: keys ?? this.staging?.keys ?? null };
    return (await this.getStaging()) as StagingSettings;
  }

  async removeStaging(): Promise<void> {
    this.staging = null;
  }

  async listAppCredentials(): Promise<AppCredentials[]> {
    return [...this.credentials.values()].map(({ network, client_id, secret_set }) => ({ network, client_id, secret_set }));
  }

  async setAppCredentials(network: Network, clientId: string, clientSecret?: string | null): Promise<AppCredentials> {
    if (clientId.trim() === '') throw new BackendError('invalid_input', 'client id: enter the client id from the developer portal');
    const old = this.credentials.get(network);
    const secret = clientSecret && clientSecret !== '' ? clientSecret : (old?.secret ?? null);
    this.credentials.set(network, { network, client_id: clientId.trim(), secret, secret_set: secret !== null });
    return { network, client_id: clientId.trim(), secret_set: secret !== null };
  }

  // ------------------------------------------------------------------ OAuth connect

  private connectError(network: Network, message: string): BackendError {
    return new BackendError('invalid_input', `${displayName(network)}: ${message}`);
  }

  private endConnect(session: string): ConnectSlot | undefined {
    const slot = this.connects.get(session);
    if (!slot) return undefined;
    for (const t of slot.timers) clearTimeout(t);
    this.connects.delete(session);
    return slot;
  }

  /** Ends an attempt with an account or an error, now or when `finishConnect` is called. */
  private settleConnect(session: string, outcome: { handle: string } | { error: BackendError }): void {
    const slot = this.connects.get(session);
    if (!slot) return;
    if (!slot.waiter) {
      slot.early ??= outcome;
      return;
    }
    const { waiter } = slot;
    this.endConnect(session);
    if ('error' in outcome) waiter.reject(outcome.error);
    else waiter.resolve(this.storeConnected(slot, outcome.handle));
  }

  /** The engine's `connect_with_tokens`: a new account, or the same handle reconnected (choices kept). */
  private storeConnected(slot: ConnectSlot, rawHandle: string): ConnectResult {
    const network = slot.network;
    const handle = rawHandle.trim().replace(/^@/, '');
    const profile = OAUTH[network];
    const expires = profile ? new Date(this.now() + profile.tokenSecs * 1000).toISOString() : null;
    const said: Record<string, string> = { client_id: slot.clientId };
    if (network === 'linkedin') said['sub'] = `demo-${handle.replace(/\W/g, '')}`;
    const existing = [...this.accounts.values()].find((a) => a.network === network && a.handle === handle);
    if (existing) {
      const old = existing.settings && typeof existing.settings === 'object' && !Array.isArray(existing.settings) ? existing.settings : {};
      const { expiry_warned_for: _w, ...kept } = { ...old, ...said };
      existing.settings = kept;
      existing.status = 'active';
      existing.status_reason = null;
      existing.token_expires_at = expires;
      for (const p of this.posts.values()) {
        for (const t of p.targets) {
          if (t.account_id === existing.id && t.wait_reason?.startsWith('waiting for')) {
            t.wait_reason = null;
            this.changed(p, t);
          }
        }
      }
      return { account: clone(existing), reconnected: true };
    }
    const account = this.addAccount({
      network,
      handle,
      remote_id: `${network}-${handle.replace(/\W/g, '')}`,
      display_name: null,
      token_expires_at: expires,
      settings: said,
    });
    return { account: clone(account), reconnected: false };
  }

  async mediaPreviews(sha256s: string[]): Promise<StagedMedia[]> {
    return [...this.media.values()].filter((m) => sha256s.includes(m.sha256)).map((m) => clone(m));
  }

  async beginConnect(network: Network, relayUrl?: string | null, _pages?: boolean): Promise<ConnectStart> {
    const name = displayName(network);
    if (network === 'bluesky') {
      throw new BackendError('invalid_input', `${name} is not connected with OAuth — see \`outpost accounts add --help\``);
    }
    const profile = OAUTH[network];
    if (!profile || !OAUTH_NETWORKS.includes(network)) {
      throw new BackendError('invalid_input', `${name}: Outpost cannot connect this network yet`);
    }
    const creds = this.credentials.get(network);
    const clientId = creds?.client_id?.trim() ?? '';
    if (clientId === '') {
      throw new BackendError(
        'invalid_input',
        `${name}: no client id — create your ${name} developer app (docs/networks/${network}.md) and enter its client id in Settings › App credentials (or \`outpost apps set ${network} --client-id …\`)`,
      );
    }
    if (profile.needsSecret && !creds?.secret) {
      throw new BackendError(
        'invalid_input',
        `${name}: no client secret — enter your ${name} app's client secret in Settings › App credentials`,
      );
    }
    const relay = relayUrl?.trim() || null;
    if (relay !== null && (!relay.startsWith('https://') || relay.includes('#'))) {
      throw this.connectError(
        network,
        `the relay page address ${JSON.stringify(relay)} is not usable: it must be a complete https:// address without a # part`,
      );
    }
    if (relay === null && profile.redirect.kind === 'https') {
      // The engine's words (outpost-auth `ConnectError::NeedsRelay`, with the display name).
      throw this.connectError(
        network,
        `${name} only sends sign-ins back to an https:// address — host Outpost's relay page (docs/oauth-relay.html) on any HTTPS static host, register its address in your ${name} app and enter it as the relay page address when connecting (or \`--relay\`)`,
      );
    }
    // The loopback listener's port: the registered one, or any free one (with a relay, always any).
    const port = profile.redirect.kind === 'fixed' && relay === null ? profile.redirect.port : 49_152 + Math.floor(Math.random() * 16_000);
    // Through the relay page, `state` starts with the port it forwards to (docs/oauth-relay.html).
    const state = relay === null ? randomState() : `${port}.${randomState()}`;
    const redirect = relay ?? `http://127.0.0.1:${port}${profile.path}`;
    const q = new URLSearchParams({ response_type: 'code', [profile.clientIdParam]: clientId, redirect_uri: redirect, scope: profile.scopes.join(profile.separator), state });
    if (profile.pkce) {
      q.set('code_challenge', randomState());
      q.set('code_challenge_method', 'S256');
    }
    const session = newId('c');
    this.connects.set(session, { network, state, clientId, waiter: null, early: null, timers: [] });
    return { session, network, authorize_url: `${profile.authorize}?${q.toString()}`, redirect_uri: redirect };
  }

  finishConnect(session: string): Promise<ConnectResult> {
    const slot = this.connects.get(session);
    if (!slot) return Promise.reject(new BackendError('invalid_input', 'this connect attempt has ended — start connecting again'));
    if (slot.waiter) return Promise.reject(new BackendError('invalid_input', 'this connect attempt is already being finished'));
    return new Promise<ConnectResult>((resolve, reject) => {
      slot.waiter = { resolve, reject };
      const early = slot.early;
      if (early) {
        this.settleConnect(session, early);
        return;
      }
      slot.timers.push(
        setTimeout(() => {
          // The engine's words (connect.rs `connect_error`), whatever the wait was.
          this.settleConnect(session, {
            error: new BackendError(
              'invalid_input',
              `${displayName(slot.network)}: no answer from the browser within 5 minutes — start connecting again (or paste the address you were sent to)`,
            ),
          });
        }, this.connectTimeoutMs),
      );
      if (this.autoApproveMs !== null) slot.timers.push(setTimeout(() => this.approve(session), this.autoApproveMs));
    });
  }

  /**
   * The engine's `parse_pasted` + `classify`: a whole address, or just its query (with or without
   * `?`), a fragment-mode response, surrounding quotes and brackets ignored. Refusals leave the
   * attempt waiting, as the engine's do.
   */
  async pasteConnect(session: string, address: string): Promise<void> {
    const slot = this.connects.get(session);
    if (!slot) throw new BackendError('invalid_input', 'this connect attempt has ended — start connecting again');
    const fail = (m: string) => this.connectError(slot.network, m);
    const notAnAddress = 'that does not look like the address the browser was sent to — copy the whole address from the address bar (it contains code= and state=)';
    const text = address.trim().replace(/^["'<>\s]+|["'<>\s]+$/g, '');
    if (text === '') throw fail(notAnAddress);
    const hasResponse = (q: URLSearchParams) => q.has('code') || q.has('error');
    let url: URL | null = null;
    try {
      url = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\s]/i.test(text) ? new URL(text) : null;
    } catch {
      url = null;
    }
    let q: URLSearchParams;
    if (url) {
      q = url.searchParams;
      if (!hasResponse(q) && url.hash.length > 1) q = new URLSearchParams(url.hash.slice(1));
    } else {
      const afterPath = text.includes('?') ? text.slice(text.indexOf('?') + 1) : text;
      const [query = '', fragment = ''] = afterPath.split(/#(.*)/s);
      q = new URLSearchParams(query);
      if (!hasResponse(q) && fragment !== '') q = new URLSearchParams(fragment);
    }
    if ([...q.keys()].length === 0) throw fail(notAnAddress);
    const state = q.get('state');
    const stateOk = state === slot.state;
    const mismatch =
      'this sign-in address belongs to another connection attempt (its state does not match) — use the address from the attempt you just started, or start again';
    const error = q.get('error');
    if (error) {
      if (state !== null && !stateOk) throw fail(mismatch);
      const description = q.get('error_description');
      const name = displayName(slot.network);
      if (error === 'access_denied') {
        throw fail(`you declined the connection on ${name}'s page, so nothing was connected${description ? ` (${description})` : ''}`);
      }
      throw fail(
        `${name} did not allow the connection (${error}${description ? `: ${description}` : ''}) — check the app's settings and permissions, then try again`,
      );
    }
    if (!q.get('code')) {
      throw fail("the address has no authorisation code in it — copy the whole address from the browser's address bar after agreeing");
    }
    if (!stateOk) throw fail(mismatch);
    this.settleConnect(session, { handle: this.signedIn[slot.network] ?? 'me' });
  }

  async cancelConnect(session: string): Promise<void> {
    const slot = this.endConnect(session);
    // The engine forgets the attempt; a waiting `finishConnect` ends here instead of timing out.
    slot?.waiter?.reject(new BackendError('invalid_input', 'this connect attempt has ended — start connecting again'));
  }

  private account(id: string): Account {
    const a = this.accounts.get(id);
    if (!a) throw new BackendError('invalid_input', `account ${id}: no such account — see \`outpost accounts list\``);
    return a;
  }

  async accountChoices(accountId: string, kind: string): Promise<AccountChoice[]> {
    const a = this.account(accountId);
    if (!AVAILABLE_NETWORKS.includes(a.network)) {
      throw new BackendError('invalid_input', `${displayName(a.network)}: not supported yet`);
    }
    const k = a.network === 'linkedin' && (kind === 'organisations' || kind === 'pages') ? 'organizations' : kind;
    return clone(this.choicesFor(a, k));
  }

  async connectPages(accountId: string, pageIds: string[]): Promise<ConnectResult[]> {
    const a = this.account(accountId);
    if (a.network !== 'facebook') {
      throw new BackendError('invalid_input', `${accountAddress(a)}: only Facebook accounts have Pages to add`);
    }
    const pages = this.choicesFor(a, 'pages');
    const out: ConnectResult[] = [];
    for (const id of pageIds) {
      const page = pages.find((p) => p.id === id);
      if (!page) throw new BackendError('invalid_input', `Facebook: Page ${id} is not one of yours — see the Page list`);
      const handle = ((page.extra as { username?: string } | null)?.username ?? page.id).toLowerCase();
      const existing = [...this.accounts.values()].find((x) => x.network === 'facebook' && x.handle === handle);
      if (existing) {
        out.push({ account: clone(existing), reconnected: true });
        continue;
      }
      const account = this.addAccount({
        network: 'facebook',
        handle,
        remote_id: page.id,
        display_name: page.name,
        token_expires_at: a.token_expires_at,
        settings: { page_id: page.id },
      });
      out.push({ account: clone(account), reconnected: false });
    }
    return out;
  }

  async setAccountDefault(accountId: string, key: string, value: string | null): Promise<Account> {
    const allowed = ['board_id', 'author'];
    if (!allowed.includes(key)) {
      throw new BackendError('invalid_input', `account default ${JSON.stringify(key)}: one of ${allowed.join(', ')}`);
    }
    const a = this.account(accountId);
    const settings: Record<string, unknown> =
      a.settings && typeof a.settings === 'object' && !Array.isArray(a.settings) ? { ...a.settings } : {};
    const v = value?.trim() ?? '';
    if (v === '') delete settings[key];
    else settings[key] = v;
    a.settings = settings as Account['settings'];
    return clone(a);
  }

  /** What the next "Add media…" picks (tests, demo): e.g. a video with its length. */
  private picks: (Partial<StagedMedia> & Pick<StagedMedia, 'mime'>)[] = [];
  queuePick(...media: (Partial<StagedMedia> & Pick<StagedMedia, 'mime'>)[]): void {
    this.picks.push(...media);
  }

  async pickMedia(): Promise<StagedMedia[]> {
    const queued = this.picks.shift();
    if (queued) return [this.stageMedia(queued)];
    // No file system here: a picked "photo" is a generated image.
    const n = this.mediaSeq;
    return [this.stageMedia({ mime: 'image/png', path: `/Pictures/photo-${n}.png`, bytes: 240_000 })];
  }

  async addMediaFromDrop(files: File[]): Promise<StagedMedia[]> {
    const out: StagedMedia[] = [];
    for (const f of files) {
      if (f.size === 0) throw new BackendError('invalid_input', `media: ${f.name} is empty (0 bytes) — choose the file again`);
      const head = new Uint8Array(await f.slice(0, 16).arrayBuffer());
      const mime = sniffMime(head, f.type);
      if (!mime.startsWith('image/') && !mime.startsWith('video/')) {
        throw new BackendError(
          'invalid_input',
          `media: ${f.name} is not an image or video Outpost recognises — export it as JPEG, PNG, GIF, WebP or MP4`,
        );
      }
      const thumbnail = isImage({ mime }) && f.size <= 8_000_000 ? await readAsDataUrl(f) : null;
      const duration = mime.startsWith('video/') ? await videoDuration(f) : null;
      out.push(
        this.stageMedia({
          mime,
          path: `/Dropped/${f.name}`,
          bytes: f.size,
          thumbnail: thumbnail ?? swatch(200, mime.startsWith('video/') ? '▶' : 'IMG'),
          duration_secs: duration,
        }),
      );
    }
    return out;
  }

  async openExternal(url: string): Promise<void> {
    if (typeof window !== 'undefined') window.open(url, '_blank', 'noopener');
  }

  async openLogFolder(): Promise<void> {
    // Nothing to open in a browser; the Tauri backend opens <data dir>/logs.
  }

  onEvent(cb: (event: Event) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private openListeners = new Set<(postId: string) => void>();

  onOpenPost(cb: (postId: string) => void): () => void {
    this.openListeners.add(cb);
    return () => this.openListeners.delete(cb);
  }

  /** Test hook: what a clicked desktop notification does. */
  requestOpen(postId: string): void {
    for (const l of [...this.openListeners]) l(postId);
  }
}

/** Networks whose accounts can be connected today. */
export const connectable = (n: Network): boolean => AVAILABLE_NETWORKS.includes(n);
