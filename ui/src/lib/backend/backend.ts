//! The one surface between the UI and the engine. Components never call Tauri directly: they get
//! a `Backend` (the real one over IPC, or the in-memory double for dev and tests) from context.
//! Every method rejects with a `BackendError` (`{ code, message }`); show `message` where the
//! action was taken.

import type { Account } from '../bindings/Account';
import type { AccountChoice } from '../bindings/AccountChoice';
import type { AppCredentials } from '../bindings/AppCredentials';
import type { ConnectStart } from '../bindings/ConnectStart';
import type { StagingKeys } from '../bindings/StagingKeys';
import type { StagingSettings } from '../bindings/StagingSettings';
import type { ConnectResult } from '../bindings/ConnectResult';
import type { Draft } from '../bindings/Draft';
import type { ErrorCode } from '../bindings/ErrorCode';
import type { Event } from '../bindings/Event';
import type { Finding } from '../bindings/Finding';
import type { Network } from '../bindings/Network';
import type { Post } from '../bindings/Post';
import type { PostDetail } from '../bindings/PostDetail';
import type { PostFilter } from '../bindings/PostFilter';
import type { Settings } from '../bindings/Settings';
import type { StagedMedia } from '../bindings/StagedMedia';
import type { StatusReport } from '../bindings/StatusReport';

export interface BlueskyLogin {
  handle: string;
  appPassword: string;
  /** A PDS URL for self-hosted accounts; the default is the Bluesky entryway. */
  pds?: string | null;
}

export interface Backend {
  /** Which implementation this is ("tauri" or "memory"), for the status bar and tests. */
  readonly kind: 'tauri' | 'memory';

  listPosts(filter?: PostFilter): Promise<Post[]>;
  getPost(id: string): Promise<PostDetail>;
  /** The engine's findings for a draft (errors block scheduling). */
  checkDraft(draft: Draft): Promise<Finding[]>;
  /** Creates a post: scheduled (`when.kind = "at"`), published now, or saved as a draft. */
  schedulePost(draft: Draft): Promise<Post>;
  /** Replaces a post's content, accounts and time (not while a network is publishing it). */
  updatePost(id: string, draft: Draft): Promise<Post>;
  /** Moves every pending target to `atIso` (RFC 3339). Refused for published/posting targets. */
  reschedulePost(id: string, atIso: string): Promise<Post>;
  cancelPost(id: string): Promise<Post>;
  /** Publishes failed, missed or unconfirmed networks again (all, or one account). */
  retryPost(id: string, accountId?: string | null): Promise<Post>;
  /** "It was posted" for an unconfirmed network. */
  confirmPosted(id: string, accountId: string): Promise<Post>;
  deletePost(id: string): Promise<void>;

  listAccounts(): Promise<Account[]>;
  connectBluesky(login: BlueskyLogin): Promise<ConnectResult>;
  removeAccount(id: string): Promise<void>;

  getStatus(): Promise<StatusReport>;
  pause(): Promise<void>;
  resume(): Promise<void>;

  getSettings(): Promise<Settings>;
  saveSettings(settings: Settings): Promise<Settings>;
  /** Per-network app credentials: the client id and whether a secret is stored, never the secret. */
  listAppCredentials(): Promise<AppCredentials[]>;
  /** Stores a client id and, when given, a new secret (write-only; `null`/absent keeps the old one). */
  setAppCredentials(network: Network, clientId: string, clientSecret?: string | null): Promise<AppCredentials>;

  /**
   * OAuth networks: starts connecting (the shell opens the authorisation page in the system
   * browser) and returns the session plus the address, to show and copy.
   */
  beginConnect(network: Network, relayUrl?: string | null, pages?: boolean): Promise<ConnectStart>;
  /** Resolves when the browser (or a pasted address) came back and the account is stored (≤ 5 min). */
  finishConnect(session: string): Promise<ConnectResult>;
  /** "Paste the address you were sent to": completes the running `finishConnect`. */
  pasteConnect(session: string, address: string): Promise<void>;
  cancelConnect(session: string): Promise<void>;
  /** Account-level choices: `boards` (Pinterest), `organizations` (LinkedIn). */
  accountChoices(accountId: string, kind: string): Promise<AccountChoice[]>;
  /** Facebook: connects more Pages of the person who connected `accountId` (each its own account). */
  connectPages(accountId: string, pageIds: string[]): Promise<ConnectResult[]>;
  /** Saves an account default: `board_id` (Pinterest), `author` (LinkedIn); `null` clears it. */
  setAccountDefault(accountId: string, key: string, value: string | null): Promise<Account>;

  /** The public bucket networks that fetch media by URL use; `null` when none is set up. */
  getStaging(): Promise<StagingSettings | null>;
  /** "Test connection": writes, reads back and deletes a small object (typed keys used for this test only). */
  testStaging(settings: StagingSettings, keys: StagingKeys | null): Promise<void>;
  /** Tests, then saves; keys (write-only) go to the keychain. `null` keys keep the saved ones. */
  saveStaging(settings: StagingSettings, keys: StagingKeys | null): Promise<StagingSettings>;
  removeStaging(): Promise<void>;

  /** Thumbnails and probed facts of files a saved post already uses (the edit view). */
  mediaPreviews(sha256s: string[]): Promise<StagedMedia[]>;
  /** The shell's file picker; copies the chosen files into the media library. */
  pickMedia(): Promise<StagedMedia[]>;
  /** Files dropped on the window. */
  addMediaFromDrop(files: File[]): Promise<StagedMedia[]>;
  openExternal(url: string): Promise<void>;
  openLogFolder(): Promise<void>;

  /** Engine events; returns the unsubscribe function. */
  onEvent(cb: (event: Event) => void): () => void;
  /** The shell asks to show a post (a desktop notification was clicked). */
  onOpenPost(cb: (postId: string) => void): () => void;
}

/** What every backend method rejects with. */
export class BackendError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'BackendError';
  }
}

const CODES: readonly ErrorCode[] = ['invalid_input', 'not_found', 'conflict', 'failed'];

/** Turns whatever a call threw (an IPC `{code, message}`, an Error, a string) into a BackendError. */
export function toBackendError(e: unknown): BackendError {
  if (e instanceof BackendError) return e;
  if (e && typeof e === 'object' && 'message' in e) {
    const o = e as { code?: unknown; message: unknown };
    const code = CODES.includes(o.code as ErrorCode) ? (o.code as ErrorCode) : 'failed';
    return new BackendError(code, String(o.message));
  }
  if (typeof e === 'string') {
    try {
      return toBackendError(JSON.parse(e));
    } catch {
      return new BackendError('failed', e);
    }
  }
  return new BackendError('failed', String(e));
}

/** The message to show for a failed action. */
export function errorMessage(e: unknown): string {
  return toBackendError(e).message;
}
