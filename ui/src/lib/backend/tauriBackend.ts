//! The real backend: each method is one `invoke` of a Tauri command of the same name in
//! snake_case (see README.md beside this file for the argument shapes). Tauri maps Rust's
//! snake_case command parameters to camelCase keys on this side, so multi-word keys are camelCase.

import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type { Account } from '../bindings/Account';
import type { AccountChoice } from '../bindings/AccountChoice';
import type { AppCredentials } from '../bindings/AppCredentials';
import type { ConnectStart } from '../bindings/ConnectStart';
import type { StagingKeys } from '../bindings/StagingKeys';
import type { StagingSettings } from '../bindings/StagingSettings';
import type { ConnectResult } from '../bindings/ConnectResult';
import type { Draft } from '../bindings/Draft';
import type { Event } from '../bindings/Event';
import type { Finding } from '../bindings/Finding';
import type { Network } from '../bindings/Network';
import type { Post } from '../bindings/Post';
import type { PostDetail } from '../bindings/PostDetail';
import type { PostFilter } from '../bindings/PostFilter';
import type { Settings } from '../bindings/Settings';
import type { StagedMedia } from '../bindings/StagedMedia';
import type { StatusReport } from '../bindings/StatusReport';
import { toBackendError, type Backend, type BlueskyLogin } from './backend';

export const EVENT_CHANNEL = 'outpost://event';
export const OPEN_POST_CHANNEL = 'outpost://open-post';

function subscribe<T>(channel: string, cb: (payload: T) => void): () => void {
  let stop: (() => void) | null = null;
  let stopped = false;
  void listen<T>(channel, (e) => cb(e.payload)).then((un) => {
    if (stopped) un();
    else stop = un;
  });
  return () => {
    stopped = true;
    stop?.();
  };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toBackendError(e);
  }
}

export function createTauriBackend(): Backend {
  return {
    kind: 'tauri',
    listPosts: (filter?: PostFilter) => call<Post[]>('list_posts', { filter: filter ?? null }),
    getPost: (id: string) => call<PostDetail>('get_post', { id }),
    checkDraft: (draft: Draft) => call<Finding[]>('check_draft', { draft }),
    schedulePost: (draft: Draft) => call<Post>('schedule_post', { draft }),
    updatePost: (id: string, draft: Draft) => call<Post>('update_post', { id, draft }),
    reschedulePost: (id: string, atIso: string) => call<Post>('reschedule_post', { id, at: atIso }),
    cancelPost: (id: string) => call<Post>('cancel_post', { id }),
    retryPost: (id: string, accountId?: string | null) =>
      call<Post>('retry_post', { id, accountId: accountId ?? null }),
    confirmPosted: (id: string, accountId: string) => call<Post>('confirm_posted', { id, accountId }),
    deletePost: (id: string) => call<void>('delete_post', { id }),

    listAccounts: () => call<Account[]>('list_accounts'),
    connectBluesky: (login: BlueskyLogin) =>
      call<ConnectResult>('connect_bluesky', {
        handle: login.handle,
        appPassword: login.appPassword,
        pds: login.pds ?? null,
      }),
    removeAccount: (id: string) => call<void>('remove_account', { id }),

    getStatus: () => call<StatusReport>('get_status'),
    pause: () => call<void>('pause'),
    resume: () => call<void>('resume'),

    getSettings: () => call<Settings>('get_settings'),
    saveSettings: (settings: Settings) => call<Settings>('save_settings', { settings }),
    beginConnect: (network: Network, relayUrl?: string | null, pages?: boolean) =>
      call<ConnectStart>('begin_connect', { network, relayUrl: relayUrl ?? null, pages: pages ?? false }),
    mediaPreviews: (sha256s: string[]) => call<StagedMedia[]>('media_previews', { sha256s }),
    finishConnect: (session: string) => call<ConnectResult>('finish_connect', { session }),
    pasteConnect: (session: string, address: string) => call<null>('paste_connect', { session, address }).then(() => undefined),
    cancelConnect: (session: string) => call<null>('cancel_connect', { session }).then(() => undefined),
    accountChoices: (accountId: string, kind: string) => call<AccountChoice[]>('account_choices', { accountId, kind }),
    connectPages: (accountId: string, pageIds: string[]) => call<ConnectResult[]>('connect_pages', { accountId, pageIds }),
    setAccountDefault: (accountId: string, key: string, value: string | null) => call<Account>('set_account_default', { accountId, key, value }),
    getStaging: () => call<StagingSettings | null>('get_staging'),
    testStaging: (settings: StagingSettings, keys: StagingKeys | null) => call<null>('test_staging', { settings, keys }).then(() => undefined),
    saveStaging: (settings: StagingSettings, keys: StagingKeys | null) => call<StagingSettings>('save_staging', { settings, keys }),
    removeStaging: () => call<null>('remove_staging').then(() => undefined),
    listAppCredentials: () => call<AppCredentials[]>('list_app_credentials'),
    setAppCredentials: (network: Network, clientId: string, clientSecret?: string | null) =>
      call<AppCredentials>('set_app_credentials', { network, clientId, clientSecret: clientSecret ?? null }),

    pickMedia: () => call<StagedMedia[]>('pick_media'),
    async addMediaFromDrop(files: File[]) {
      // One raw-body call per file: no base64, no JSON array of bytes.
      const out: StagedMedia[] = [];
      for (const f of files) {
        const bytes = new Uint8Array(await f.arrayBuffer());
        try {
          out.push(
            await invoke<StagedMedia>('add_media_bytes', bytes, {
              headers: { 'x-file-name': encodeURIComponent(f.name) },
            }),
          );
        } catch (e) {
          throw toBackendError(e);
        }
      }
      return out;
    },
    openExternal: (url: string) => call<void>('open_external', { url }),
    openLogFolder: () => call<void>('open_log_folder'),

    onEvent: (cb: (event: Event) => void) => subscribe<Event>(EVENT_CHANNEL, cb),
    onOpenPost: (cb: (postId: string) => void) => subscribe<string>(OPEN_POST_CHANNEL, cb),
  };
}
