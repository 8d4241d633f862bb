//! Per-network limits — a mirror of `limits()` in `crates/outpost-core/src/validate.rs`, plus a
//! few UI-side facts the engine does not hold yet (video length, first comments, names).

import type { Network } from '../bindings/Network';
import { chars, graphemes, threadsLength, utf16Units, xWeightedLength } from './text';

export type TextCount = 'graphemes' | 'chars' | 'x_weighted' | 'threads_emoji_bytes' | 'utf16';

export function countText(kind: TextCount, s: string): number {
  switch (kind) {
    case 'graphemes':
      return graphemes(s);
    case 'chars':
      return chars(s);
    case 'x_weighted':
      return xWeightedLength(s);
    case 'threads_emoji_bytes':
      return threadsLength(s);
    case 'utf16':
      return utf16Units(s);
  }
}

export function countUnit(kind: TextCount): string {
  switch (kind) {
    case 'graphemes':
      return 'characters (graphemes)';
    case 'chars':
      return 'characters';
    case 'x_weighted':
      return 'weighted characters';
    case 'threads_emoji_bytes':
      return 'characters (emoji count their bytes)';
    case 'utf16':
      return 'UTF-16 units';
  }
}

export interface Limits {
  network: Network;
  textMax: number;
  textCount: TextCount;
  textBytesMax: number | null;
  maxImages: number;
  maxVideos: number;
  imageMaxBytes: number;
  videoMaxBytes: number;
  imageMimes: readonly string[];
  requiresMedia: boolean;
  videoOnly: boolean;
  noImageVideoMix: boolean;
  supportsThreads: boolean;
  // UI-side (not in the Rust table yet):
  /** Longest video in seconds (platform docs, some third-party figures). */
  videoMaxSecs: number;
  /** Whether Outpost can post a first comment (or a final reply) there. */
  supportsFirstComment: boolean;
}

const MB = 1_000_000;
const COMMON_IMAGES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] as const;

export const NETWORKS: readonly Network[] = [
  'bluesky',
  'x',
  'linkedin',
  'pinterest',
  'facebook',
  'instagram',
  'threads',
  'tiktok',
  'youtube',
];

const NAMES: Record<Network, string> = {
  bluesky: 'Bluesky',
  x: 'X',
  linkedin: 'LinkedIn',
  pinterest: 'Pinterest',
  facebook: 'Facebook',
  instagram: 'Instagram',
  threads: 'Threads',
  tiktok: 'TikTok',
  youtube: 'YouTube',
};

export function displayName(n: Network): string {
  return NAMES[n];
}

/** Networks Outpost can publish to today; the others are "coming soon". */
export const AVAILABLE_NETWORKS: readonly Network[] = [
  'bluesky',
  'x',
  'linkedin',
  'pinterest',
  'facebook',
  'instagram',
  'threads',
  'tiktok',
  'youtube',
];

/** Available networks connected in the system browser (OAuth), with the user's developer app. */
export const OAUTH_NETWORKS: readonly Network[] = ['x', 'linkedin', 'pinterest', 'facebook', 'instagram', 'threads', 'tiktok', 'youtube'];

/**
 * Networks whose sign-in page sends the browser back only to an `https://` address (Meta's and
 * TikTok's rules): connecting goes through the user's relay page or a pasted address.
 */
export const HTTPS_REDIRECT_NETWORKS: readonly Network[] = ['facebook', 'instagram', 'threads', 'tiktok'];

/** Networks that fetch a post's media from a public address (the staging bucket): all of it, or photos only. */
export const STAGED_MEDIA: Partial<Record<Network, 'all' | 'photos'>> = {
  instagram: 'all',
  threads: 'all',
  tiktok: 'photos',
};

const BASE: Omit<Limits, 'network'> = {
  textMax: 0,
  textCount: 'chars',
  textBytesMax: null,
  maxImages: 0,
  maxVideos: 0,
  imageMaxBytes: 0,
  videoMaxBytes: 0,
  imageMimes: COMMON_IMAGES,
  requiresMedia: false,
  videoOnly: false,
  noImageVideoMix: false,
  supportsThreads: false,
  videoMaxSecs: 0,
  supportsFirstComment: false,
};

const TABLE: Record<Network, Omit<Limits, 'network'>> = {
  bluesky: {
    ...BASE,
    textMax: 300,
    textCount: 'graphemes',
    textBytesMax: 3000,
    maxImages: 4,
    // One mp4 through the video service, at most the PDS blob limit (50 MiB).
    maxVideos: 1,
    imageMaxBytes: MB,
    videoMaxBytes: 52_428_800,
    noImageVideoMix: true,
    supportsThreads: true,
    videoMaxSecs: 180,
    // Outpost does not post Bluesky first comments yet (outpost-core validate.rs agrees).
    supportsFirstComment: false,
  },
  x: {
    ...BASE,
    textMax: 280,
    textCount: 'x_weighted',
    maxImages: 4,
    maxVideos: 1,
    imageMaxBytes: 5 * MB,
    videoMaxBytes: 512 * MB,
    noImageVideoMix: true,
    supportsThreads: true,
    videoMaxSecs: 140,
    supportsFirstComment: true,
  },
  linkedin: {
    ...BASE,
    textMax: 3000,
    maxImages: 20,
    maxVideos: 1,
    imageMaxBytes: 36 * MB,
    videoMaxBytes: 500 * MB,
    noImageVideoMix: true,
    videoMaxSecs: 30 * 60,
    supportsFirstComment: true,
  },
  pinterest: {
    ...BASE,
    textMax: 800,
    maxImages: 5,
    maxVideos: 1,
    imageMaxBytes: 20 * MB,
    videoMaxBytes: 2000 * MB,
    imageMimes: ['image/jpeg', 'image/png'],
    requiresMedia: true,
    noImageVideoMix: true,
    videoMaxSecs: 15 * 60,
  },
  facebook: {
    ...BASE,
    textMax: 63_206,
    maxImages: 10,
    maxVideos: 1,
    imageMaxBytes: 4 * MB,
    videoMaxBytes: 1000 * MB,
    noImageVideoMix: true,
    videoMaxSecs: 240 * 60,
    supportsFirstComment: true,
  },
  instagram: {
    ...BASE,
    textMax: 2200,
    maxImages: 10,
    maxVideos: 10,
    imageMaxBytes: 8 * MB,
    videoMaxBytes: 300 * MB,
    imageMimes: ['image/jpeg'],
    requiresMedia: true,
    videoMaxSecs: 15 * 60,
    supportsFirstComment: true,
  },
  threads: {
    ...BASE,
    textMax: 500,
    textCount: 'threads_emoji_bytes',
    maxImages: 20,
    maxVideos: 20,
    imageMaxBytes: 8 * MB,
    videoMaxBytes: 1000 * MB,
    imageMimes: ['image/jpeg', 'image/png'],
    supportsThreads: true,
    videoMaxSecs: 5 * 60,
    supportsFirstComment: true,
  },
  tiktok: {
    ...BASE,
    textMax: 2200,
    textCount: 'utf16',
    maxImages: 35,
    maxVideos: 1,
    imageMaxBytes: 20 * MB,
    videoMaxBytes: 4000 * MB,
    imageMimes: ['image/jpeg', 'image/webp'],
    requiresMedia: true,
    noImageVideoMix: true,
    videoMaxSecs: 10 * 60,
  },
  youtube: {
    ...BASE,
    textMax: 5000,
    maxVideos: 1,
    videoMaxBytes: 256_000 * MB,
    requiresMedia: true,
    videoOnly: true,
    textCount: 'chars',
    textBytesMax: 5000,
    videoMaxSecs: 12 * 3600,
    supportsFirstComment: false,
  },
};

export function limits(network: Network): Limits {
  return { network, ...TABLE[network] };
}
