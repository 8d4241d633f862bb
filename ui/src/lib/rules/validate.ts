//! The per-network checks — `validate()` mirrors `crates/outpost-core/src/validate.rs` message for
//! message; `checkContext()` adds the checks that need more than the content: the per-target
//! options (`validateOptions`, mirroring the engine's `validate_options` after its account
//! defaults), plus video length, quota, first comment and account state.
//! Used by Compose for instant feedback and by the memory backend as its "engine".

import type { Account } from '../bindings/Account';
import type { AccountChoice } from '../bindings/AccountChoice';
import type { Finding } from '../bindings/Finding';
import type { MediaRef } from '../bindings/MediaRef';
import type { Network } from '../bindings/Network';
import type { Part } from '../bindings/Part';
import type { PostContent } from '../bindings/PostContent';
import type { QuotaUsage } from '../bindings/QuotaUsage';
import { countText, countUnit, displayName, limits, type Limits } from './limits';
import { chars, utf8Bytes } from './text';

/** Pinterest's pin title and destination link limits (outpost-core `validate_options`). */
export const PIN_TITLE_MAX = 100;
export const PIN_LINK_MAX = 2048;

/** YouTube's title and tags limits (outpost-networks `youtube/plan.rs`). */
export const YT_TITLE_MAX = 100;
export const YT_TAGS_MAX = 500;
export const YT_PRIVACY = ['public', 'unlisted', 'private'] as const;

/** TikTok's privacy levels (`privacy_level`), and how a video goes out (`mode`). */
export const TIKTOK_PRIVACY_LEVELS = ['PUBLIC_TO_EVERYONE', 'MUTUAL_FOLLOW_FRIENDS', 'FOLLOWER_OF_CREATOR', 'SELF_ONLY'] as const;
export const TIKTOK_MODES = ['direct', 'inbox'] as const;

/** Facebook holds a post (hand-off) only when it is due at least this far ahead. */
export const FB_HOLD_MIN_MS = 10 * 60_000;

export const isImage = (m: Pick<MediaRef, 'mime'>): boolean => m.mime.startsWith('image/');
export const isVideo = (m: Pick<MediaRef, 'mime'>): boolean => m.mime.startsWith('video/');
export const fileName = (path: string): string => path.split(/[/\\]/).pop() ?? path;

/** The parts as they go to `network` (its variant text applied to the first part). */
export function partsFor(content: PostContent, network: Network): Part[] {
  const parts = content.parts.map((p) => ({ ...p }));
  const v = content.variants[network];
  const first = parts[0];
  if (v !== undefined && first) first.text = v;
  return parts;
}

export function isEmptyContent(content: PostContent): boolean {
  return content.parts.every((p) => p.text.trim() === '' && p.media.length === 0);
}

/** Checks one post for one network. Errors block scheduling; warnings are shown. */
export function validate(network: Network, content: PostContent): Finding[] {
  const l = limits(network);
  const name = displayName(network);
  const out: Finding[] = [];
  const error = (field: string, message: string) =>
    out.push({ network, severity: 'error', field, message: `${name}: ${message}` });
  const parts = partsFor(content, network);
  if (isEmptyContent(content)) {
    error('text', 'the post is empty — write some text or add media');
    return out;
  }
  if (parts.length > 1 && !l.supportsThreads) {
    error(
      'parts',
      `${name} does not support threads — publish the parts as separate posts or remove parts 2–${parts.length}`,
    );
  }
  parts.forEach((part, i) => {
    const field = parts.length === 1 ? 'text' : `part ${i + 1} text`;
    if (part.text.trim() === '' && part.media.length === 0) {
      error(field, `${field} is empty — write something or remove the part`);
    }
    const n = countText(l.textCount, part.text);
    if (n > l.textMax) {
      error(
        field,
        `${field} is ${n} ${countUnit(l.textCount)}; the limit is ${l.textMax} — shorten it by ${n - l.textMax}`,
      );
    }
    if (l.textBytesMax !== null) {
      const b = utf8Bytes(part.text);
      if (b > l.textBytesMax) {
        error(field, `${field} is ${b} bytes of UTF-8; the limit is ${l.textBytesMax} — shorten it`);
      }
    }
    checkMedia(network, l, i, parts.length, part.media, error);
  });
  if (l.requiresMedia && !content.parts.some((p) => p.media.length > 0)) {
    const msg =
      network === 'instagram'
        ? 'Instagram posts require at least one media file'
        : network === 'tiktok'
          ? 'TikTok only supports video content — add a video'
          : network === 'youtube'
            ? 'YouTube needs a video — add one'
            : `${name} posts need an image or a video — add one`;
    error('media', msg);
  }
  return out;
}

function checkMedia(
  network: Network,
  l: Limits,
  part: number,
  partCount: number,
  media: MediaRef[],
  error: (field: string, message: string) => void,
): void {
  const name = displayName(network);
  const where = (j: number) =>
    partCount === 1 ? `media[${j + 1}]` : `part ${part + 1} media[${j + 1}]`;
  const images = media.filter(isImage).length;
  const videos = media.filter(isVideo).length;
  if (l.videoOnly && images > 0) {
    error(
      'media',
      network === 'tiktok'
        ? 'TikTok only supports video content'
        : `${name} only accepts video — remove the images`,
    );
  }
  if (l.noImageVideoMix && images > 0 && videos > 0) {
    error(
      'media',
      network === 'pinterest'
        ? "Pinterest doesn't support mixing images and videos"
        : `${name} does not accept images and a video in one post — keep one kind`,
    );
  }
  if (images > l.maxImages && !l.videoOnly) {
    error(
      'media',
      `${images} images attached; ${name} takes at most ${l.maxImages} — remove ${images - l.maxImages}`,
    );
  }
  if (videos > l.maxVideos) {
    error(
      'media',
      l.maxVideos === 0
        ? `Outpost cannot publish video to ${name} yet — remove the video`
        : `${videos} videos attached; ${name} takes at most ${l.maxVideos}`,
    );
  }
  media.forEach((m, j) => {
    const file = fileName(m.path);
    if (isImage(m)) {
      if (!l.imageMimes.includes(m.mime)) {
        error(where(j), `${file} is ${m.mime}; ${name} accepts ${l.imageMimes.join(', ')} — convert it`);
      }
      if (m.bytes > l.imageMaxBytes) {
        error(
          where(j),
          `${file} is ${m.bytes} bytes; ${name} images must be at most ${l.imageMaxBytes} bytes — resize or compress it`,
        );
      }
    } else if (isVideo(m) && l.maxVideos > 0 && m.bytes > l.videoMaxBytes) {
      error(where(j), `${file} is ${m.bytes} bytes; ${name} videos must be at most ${l.videoMaxBytes} bytes`);
    } else if (!isImage(m) && !isVideo(m)) {
      error(where(j), `${file} (${m.mime}) is neither an image nor a video`);
    }
  });
}

export function formatDuration(secs: number): string {
  const s = Math.round(secs);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
}

/** The engine's `human_ms`: "2 min 30 s", "10 min", "45 s", "0.5 s". */
export function humanMs(ms: number): string {
  const whole = Math.max(0, Math.round(ms));
  const secs = Math.floor(whole / 1000);
  const rest = whole % 1000;
  const m = Math.floor(secs / 60);
  const s = secs % 60;
  if (m === 0) return rest === 0 ? `${s} s` : `${(s + rest / 1000).toFixed(2).replace(/0+$/, '').replace(/\.$/, '')} s`;
  return s === 0 ? `${m} min` : `${m} min ${s} s`;
}

function describeSecs(secs: number): string {
  if (secs % 3600 === 0) return `${secs / 3600} h`;
  if (secs % 60 === 0) return `${secs / 60} min`;
  return `${secs} s`;
}

/** What the context checks need to know besides the content. */
export interface CheckContext {
  /** The accounts the post goes to. */
  accounts: Account[];
  /** Video length in seconds by media path, where known. */
  durations?: ReadonlyMap<string, number>;
  /** Quota usage as `status` reports it (`account` is `network:handle`). */
  quotas?: QuotaUsage[];
  /** TikTok: what `accountChoices(id, 'creator_info')` said, by account id, where known. */
  creators?: ReadonlyMap<string, CreatorInfo>;
}

/** A TikTok account's posting rules (`creator_info/query`), read from its `creator_info` choices. */
export interface CreatorInfo {
  /** The privacy levels the account may post with, in TikTok's order. */
  privacyLevels: string[];
  /** The longest video the account may post (`max_video_post_duration_sec`), when TikTok says. */
  maxVideoSecs: number | null;
  commentDisabled: boolean;
  duetDisabled: boolean;
  stitchDisabled: boolean;
}

/**
 * `accountChoices(id, 'creator_info')` → `CreatorInfo`: one choice per allowed privacy level (its
 * id is the level), `max_video_post_duration_sec` with the number in `extra.value`, and
 * `comment_disabled` / `duet_disabled` / `stitch_disabled` when the creator turned those off.
 */
export function creatorInfoOf(choices: readonly AccountChoice[]): CreatorInfo {
  const has = (id: string) =>
    choices.some((c) => c.id === id && (c.extra as { value?: unknown } | null)?.value !== false);
  const max = choices.find((c) => c.id === 'max_video_post_duration_sec');
  const raw = (max?.extra as { value?: unknown } | null | undefined)?.value;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw.trim()) : NaN;
  const offered = new Set(choices.map((c) => c.id));
  return {
    privacyLevels: TIKTOK_PRIVACY_LEVELS.filter((p) => offered.has(p)),
    maxVideoSecs: Number.isFinite(n) && n > 0 ? n : null,
    commentDisabled: has('comment_disabled'),
    duetDisabled: has('duet_disabled'),
    stitchDisabled: has('stitch_disabled'),
  };
}

export function accountAddress(a: Pick<Account, 'network' | 'handle'>): string {
  return `${a.network}:${a.handle}`;
}

type Options = Record<string, unknown>;

const isObject = (v: unknown): v is Options => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A non-secret account setting as text (`board_id`, `author`…), or null when blank or absent. */
export function accountSetting(a: Pick<Account, 'settings'>, key: string): string | null {
  const v = isObject(a.settings) ? a.settings[key] : undefined;
  return typeof v === 'string' && v.trim() !== '' ? v : null;
}

/**
 * `PostContent::options_for`: the options for one target — the network's (`"pinterest"`), then
 * the account's (`"pinterest:alice"`) key by key, so the address wins.
 */
export function optionsFor(content: Pick<PostContent, 'options'>, network: Network, address: string): Options {
  const merged: Options = {};
  for (const key of [network, address]) {
    const o = content.options[key];
    if (isObject(o)) Object.assign(merged, o);
  }
  return merged;
}

/**
 * The engine's `apply_account_defaults`: a Pinterest account's default board (`settings.board_id`)
 * fills `board_id` under the account's address when the post leaves it open (absent — an empty
 * value counts as chosen). Returns new content; `content` is not changed.
 */
export function applyAccountDefaults<C extends Pick<PostContent, 'options'>>(content: C, accounts: Account[]): C {
  let options = content.options;
  for (const a of accounts) {
    if (a.network !== 'pinterest') continue;
    const board = accountSetting(a, 'board_id');
    if (board === null) continue;
    const address = accountAddress(a);
    if (optionsFor({ options }, a.network, address)['board_id'] !== undefined) continue;
    const own = options[address];
    options = { ...options, [address]: { ...(isObject(own) ? own : {}), board_id: board } };
  }
  return options === content.options ? content : { ...content, options };
}

/** An option as the engine reads it: trimmed non-empty text, or a number as text. */
function optionText(options: Options, key: string): string | null {
  const v = options[key];
  const s = typeof v === 'string' ? v.trim() : typeof v === 'number' && Number.isFinite(v) ? String(v) : null;
  return s === null || s === '' ? null : s;
}

/** Rust's `{:?}` of a string: double quotes, with `"`, `\\` and unprintable characters escaped. */
export function rustDebug(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp === 0) out += '\\0';
    else if (ch !== ' ' && /[\p{C}\p{Z}]/u.test(ch)) out += `\\u{${cp.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * `validate_options` in outpost-core, message for message: one target's options (already merged
 * with `optionsFor` and the account defaults) for `network`; `address` names the account.
 */
export function validateOptions(network: Network, address: string, options: Options): Finding[] {
  const out: Finding[] = [];
  const error = (field: string, message: string) =>
    out.push({ network, severity: 'error', field, message: `${displayName(network)}: ${message}` });
  if (network === 'pinterest') {
    if (optionText(options, 'board_id') === null) {
      error('board', `Pinterest board not selected — choose a board for ${address}`);
    }
    const title = optionText(options, 'title');
    if (title !== null && chars(title) > PIN_TITLE_MAX) {
      error('title', `the pin title is ${chars(title)} characters; the limit is ${PIN_TITLE_MAX} — shorten it`);
    }
    const link = optionText(options, 'link');
    if (link !== null && (!(link.startsWith('https://') || link.startsWith('http://')) || utf8Bytes(link) > PIN_LINK_MAX)) {
      error('link', `the pin link ${rustDebug(link)} must be an http(s) address of at most 2,048 characters`);
    }
  } else if (network === 'tiktok') {
    const privacyBad = textProblem(options, 'privacy_level');
    const modeBad = textProblem(options, 'mode');
    if (privacyBad) error('privacy_level', privacyBad);
    if (modeBad) error('mode', modeBad);
    const mode = modeBad ? null : optionText(options, 'mode');
    if (mode !== null && !(TIKTOK_MODES as readonly string[]).includes(mode.toLowerCase())) {
      error('mode', `the option mode is ${rustDebug(mode)}; use direct (post now) or inbox (send to the TikTok inbox as a draft)`);
    }
    // Sent to the inbox, the video is finished in the TikTok app: privacy is chosen there.
    const inbox = mode?.toLowerCase() === 'inbox';
    const privacy = privacyBad ? null : optionText(options, 'privacy_level');
    if (privacy === null && !privacyBad && !inbox) {
      error('privacy_level', `choose who can watch this video for ${address}`);
    } else if (privacy !== null && !(TIKTOK_PRIVACY_LEVELS as readonly string[]).includes(privacy.toUpperCase())) {
      error('privacy_level', `the option privacy_level is ${rustDebug(privacy)}; use one of ${TIKTOK_PRIVACY_LEVELS.join(', ')}`);
    }
    for (const key of ['disable_comment', 'disable_duet', 'disable_stitch']) {
      const p = flagProblem(options, key);
      if (p) error(key, p);
    }
  } else if (network === 'youtube') {
    const titleBad = textProblem(options, 'title');
    if (titleBad) error('title', titleBad);
    const title = optionText(options, 'title');
    if (title !== null) {
      if (/[<>]/.test(title)) error('title', 'the title contains < or >, which YouTube refuses — remove them');
      const n = chars(title);
      if (n > YT_TITLE_MAX) {
        error('title', `the title is ${n} characters; the limit is ${YT_TITLE_MAX} — shorten it by ${n - YT_TITLE_MAX}`);
      }
    }
    const privacy = optionText(options, 'privacy') ?? optionText(options, 'privacy_status');
    if (privacy !== null && !(YT_PRIVACY as readonly string[]).includes(privacy.toLowerCase())) {
      error('privacy', `the option privacy is ${rustDebug(privacy)}; use public, unlisted or private`);
    }
    for (const key of ['made_for_kids', 'hand_off', 'notify_subscribers']) {
      const p = flagProblem(options, key);
      if (p) error(key, p);
    }
    const tags = youtubeTags(options['tags']);
    if ('error' in tags) {
      error('tags', tags.error);
    } else {
      const bad = tags.ok.find((t) => /[<>]/.test(t));
      if (bad !== undefined) error('tags', `the tag ${rustDebug(bad)} contains < or >, which YouTube refuses — remove them`);
      const n = tagsLength(tags.ok);
      if (n > YT_TAGS_MAX) {
        error(
          'tags',
          `the tags take ${n} characters (commas, and quotes around tags with spaces, count); the limit is ${YT_TAGS_MAX} — remove some tags`,
        );
      }
    }
  } else if (network === 'facebook') {
    for (const key of ['hand_off', 'reel']) {
      const p = flagProblem(options, key);
      if (p) error(key, p);
    }
  }
  return out;
}

/** An option the engine reads as text but that is something else (a number counts as text). */
function textProblem(options: Options, key: string): string | null {
  const v = options[key];
  if (v === undefined || v === null || typeof v === 'string' || typeof v === 'number') return null;
  return `the option ${key} is ${JSON.stringify(v)}; it must be text`;
}

/** A yes/no option: `true`/`false`, or the text "true"/"false" (as `--option key=true` gives it). */
function flagProblem(options: Options, key: string): string | null {
  const v = options[key];
  if (v === undefined || v === null || typeof v === 'boolean') return null;
  if (typeof v === 'string' && ['true', 'false'].includes(v.trim().toLowerCase())) return null;
  return `the option ${key} is ${JSON.stringify(v)}; use true or false`;
}

/** A yes/no option's value (`fallback` when absent or not a yes/no). */
export function optionFlag(options: Options, key: string, fallback: boolean): boolean {
  const v = options[key];
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && ['true', 'false'].includes(v.trim().toLowerCase())) return v.trim().toLowerCase() === 'true';
  return fallback;
}

/** Text typed as "woodworking, #walnut, side table" → the tags YouTube gets (`#` and blanks dropped). */
export function splitTags(text: string): string[] {
  return text
    .split(',')
    .map((t) => t.trim().replace(/^#+/, '').trim())
    .filter((t) => t !== '');
}

/** `tags` as the engine reads it: an array of words, or comma-separated text. */
export function youtubeTags(v: unknown): { ok: string[] } | { error: string } {
  if (v === undefined || v === null) return { ok: [] };
  if (typeof v === 'string') return { ok: splitTags(v) };
  if (Array.isArray(v)) {
    const words: string[] = [];
    for (const t of v) {
      if (typeof t === 'string' || typeof t === 'number') words.push(String(t));
      else return { error: `the option tags contains ${JSON.stringify(t)}; give words, e.g. travel, alps` };
    }
    return { ok: splitTags(words.join(',')) };
  }
  return { error: `the option tags is ${JSON.stringify(v)}; give words, e.g. travel, alps` };
}

/** How YouTube counts tags against its 500: characters, commas between, quotes around tags with spaces. */
export function tagsLength(tags: readonly string[]): number {
  return tags.reduce((n, t) => n + chars(t) + (t.includes(' ') ? 2 : 0), 0) + Math.max(0, tags.length - 1);
}

/** The title YouTube gets when none is set: the text's first line (else the file's name), ≤ 100 characters, no < or >. */
export function derivedYoutubeTitle(text: string, fileNameFallback = ''): string {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  const stem = fileNameFallback.replace(/\.[^.]*$/, '');
  const t = (line ?? stem).replace(/[<>]/g, '').trim();
  return [...t].slice(0, YT_TITLE_MAX).join('');
}

/** Checks that need the accounts and probed media, per account. */
export function checkContext(content: PostContent, ctx: CheckContext): Finding[] {
  const out: Finding[] = [];
  // As the engine's check_draft: account defaults first, then the options per target.
  const filled = applyAccountDefaults(content, ctx.accounts);
  const seenNetworks = new Set<Network>();
  const cap = (a: Account) => ctx.creators?.get(a.id)?.maxVideoSecs ?? null;
  for (const account of ctx.accounts) {
    const network = account.network;
    const name = displayName(network);
    const l = limits(network);
    const address = accountAddress(account);
    const push = (severity: 'error' | 'warning', field: string, message: string) =>
      out.push({ network, severity, field, message: `${name}: ${message}` });
    if (!seenNetworks.has(network)) {
      seenNetworks.add(network);
      const parts = partsFor(content, network);
      // Where every account of the network says its own longest video (TikTok), that is the limit.
      const ownCaps = ctx.accounts.filter((a) => a.network === network).every((a) => cap(a) !== null);
      parts.forEach((part, i) => {
        part.media.forEach((m, j) => {
          const secs = ctx.durations?.get(m.path);
          if (!ownCaps && isVideo(m) && secs !== undefined && l.videoMaxSecs > 0 && secs > l.videoMaxSecs) {
            const field = parts.length === 1 ? `media[${j + 1}]` : `part ${i + 1} media[${j + 1}]`;
            push(
              'error',
              field,
              `${fileName(m.path)} is ${formatDuration(secs)} long; ${name} takes videos up to ${describeSecs(l.videoMaxSecs)} — trim it`,
            );
          }
        });
      });
      const fc = content.first_comment;
      if (fc !== null && fc.trim() !== '' && !l.supportsFirstComment) {
        push('warning', 'first_comment', `first comments are not supported — it will not be posted on ${name}`);
      }
    }
    const options = optionsFor(filled, network, address);
    out.push(...validateOptions(network, address, options));
    const creator = ctx.creators?.get(account.id);
    if (network === 'tiktok' && creator) checkCreator(content, address, options, creator, ctx.durations, push);
    if (account.status !== 'active') {
      // The engine's own warning, word for word (outpost-engine api.rs `findings`).
      push('warning', 'account', `account ${address} needs reconnecting — reconnect it before the post is due`);
    }
    for (const q of ctx.quotas ?? []) {
      if (q.account === address && q.used >= q.max) {
        const window = q.window_secs === 86_400 ? 'daily' : q.window_secs === 3600 ? 'hourly' : `${describeSecs(q.window_secs)}`;
        push(
          'warning',
          'quota',
          `${window} quota reached for ${address} (${q.used} of ${q.max}) — the post will wait until the quota frees up`,
        );
      }
    }
  }
  return out;
}

/** TikTok: the account's own longest video, and a privacy level TikTok does not offer it. */
function checkCreator(
  content: PostContent,
  address: string,
  options: Options,
  creator: CreatorInfo,
  durations: ReadonlyMap<string, number> | undefined,
  push: (severity: 'error' | 'warning', field: string, message: string) => void,
): void {
  const max = creator.maxVideoSecs;
  if (max !== null) {
    const parts = partsFor(content, 'tiktok');
    parts.forEach((part, i) =>
      part.media.forEach((m, j) => {
        const secs = durations?.get(m.path);
        if (!isVideo(m) || secs === undefined) return;
        const ms = Math.round(secs * 1000);
        if (ms <= max * 1000) return;
        const field = parts.length === 1 ? `media[${j + 1}]` : `part ${i + 1} media[${j + 1}]`;
        push('error', field, `${fileName(m.path)} is ${humanMs(ms)} long; this account can post videos up to ${humanMs(max * 1000)} — trim it`);
      }),
    );
  }
  const inbox = optionText(options, 'mode')?.toLowerCase() === 'inbox';
  const chosen = optionText(options, 'privacy_level')?.toUpperCase() ?? null;
  const levels = creator.privacyLevels;
  // An app TikTok has not audited yet is offered "only me": the engine posts privately, with a notice.
  const onlySelf = levels.length > 0 && levels.every((p) => p === 'SELF_ONLY');
  if (
    !inbox &&
    levels.length > 0 &&
    chosen !== null &&
    (TIKTOK_PRIVACY_LEVELS as readonly string[]).includes(chosen) &&
    !levels.includes(chosen) &&
    !onlySelf
  ) {
    push(
      'error',
      'privacy_level',
      `${address} cannot post with privacy_level ${chosen} (TikTok offers ${levels.join(', ')}) — choose one of those`,
    );
  }
}

/** All findings for a post going to these accounts: per-network content checks + context checks. */
export function checkAll(content: PostContent, ctx: CheckContext): Finding[] {
  const networks = [...new Set(ctx.accounts.map((a) => a.network))];
  return [...networks.flatMap((n) => validate(n, content)), ...checkContext(content, ctx)];
}
