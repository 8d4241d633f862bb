//! The app's live model: posts, accounts, settings and runner health, kept current by engine
//! events (no reload). Components read it and call the backend; they never mutate it directly.

import { getContext, setContext } from 'svelte';
import type { Backend } from '../backend/backend';
import { errorMessage } from '../backend/backend';
import type { Account } from '../bindings/Account';
import type { Event } from '../bindings/Event';
import type { HealthSnapshot } from '../bindings/HealthSnapshot';
import type { Post } from '../bindings/Post';
import type { Settings } from '../bindings/Settings';
import type { StatusReport } from '../bindings/StatusReport';
import { derivePostStatus } from '../rules/status';
import { systemZone } from '../time';

export interface Toast {
  id: number;
  kind: 'info' | 'error' | 'success';
  text: string;
}

export class AppState {
  readonly backend: Backend;
  /** Immutable post objects; a change replaces the object (cheap diffing for the calendar). */
  posts = $state.raw<Post[]>([]);
  accounts = $state.raw<Account[]>([]);
  settings = $state.raw<Settings>({
    time_zone: systemZone(),
    catch_up_window_secs: 7200,
    media_keep_days: 30,
    notifications: true,
    start_at_login: false,
  });
  status = $state.raw<StatusReport | null>(null);
  health = $state.raw<HealthSnapshot | null>(null);
  loaded = $state(false);
  loadError = $state<string | null>(null);
  toasts = $state<Toast[]>([]);
  private toastSeq = 0;
  private unsubscribe: (() => void) | null = null;
  private statusTimer: ReturnType<typeof setInterval> | null = null;
  private statusQueued = false;

  zone = $derived(this.settings.time_zone);

  constructor(backend: Backend) {
    this.backend = backend;
  }

  async start(): Promise<void> {
    this.unsubscribe = this.backend.onEvent((e) => this.handle(e));
    try {
      const [posts, accounts, settings, status] = await Promise.all([
        this.backend.listPosts(),
        this.backend.listAccounts(),
        this.backend.getSettings(),
        this.backend.getStatus(),
      ]);
      this.posts = posts;
      this.accounts = accounts;
      this.settings = settings;
      this.status = status;
    } catch (e) {
      this.loadError = errorMessage(e);
    }
    this.loaded = true;
    this.statusTimer = setInterval(() => void this.refreshStatus(), 15_000);
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.statusTimer) clearInterval(this.statusTimer);
  }

  toast(kind: Toast['kind'], text: string): void {
    const id = ++this.toastSeq;
    this.toasts = [...this.toasts, { id, kind, text }];
    setTimeout(() => this.dismiss(id), kind === 'error' ? 9000 : 4500);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  post(id: string): Post | undefined {
    return this.posts.find((p) => p.id === id);
  }

  /** Puts a post the backend returned into the model (insert or replace). */
  upsert(post: Post): void {
    const i = this.posts.findIndex((p) => p.id === post.id);
    if (i < 0) this.posts = [...this.posts, post];
    else this.posts = this.posts.map((p, j) => (j === i ? post : p));
    this.queueStatus();
  }

  remove(id: string): void {
    this.posts = this.posts.filter((p) => p.id !== id);
    this.queueStatus();
  }

  async refreshPosts(): Promise<void> {
    this.posts = await this.backend.listPosts();
  }

  async refreshAccounts(): Promise<void> {
    this.accounts = await this.backend.listAccounts();
  }

  async refreshStatus(): Promise<void> {
    try {
      this.status = await this.backend.getStatus();
    } catch {
      // The status bar keeps the last known state; the next event or poll retries.
    }
  }

  /** Coalesces bursts of changes into one status refresh. */
  private queueStatus(): void {
    if (this.statusQueued) return;
    this.statusQueued = true;
    setTimeout(() => {
      this.statusQueued = false;
      void this.refreshStatus();
    }, 250);
  }

  handle(e: Event): void {
    switch (e.type) {
      case 'target_changed': {
        const post = this.post(e.post_id);
        if (!post) {
          // A post written elsewhere (the CLI, another window): fetch it whole.
          void this.backend
            .getPost(e.post_id)
            .then((d) => this.upsert(d.post))
            .catch(() => undefined);
          return;
        }
        const has = post.targets.some((t) => t.id === e.target.id);
        const targets = has
          ? post.targets.map((t) => (t.id === e.target.id ? e.target : t))
          : [...post.targets, e.target];
        const status = derivePostStatus(targets.map((t) => t.state));
        const failed = targets.filter((t) => t.state === 'failed' && t.last_error).map((t) => t.last_error as string);
        this.upsert({
          ...post,
          targets,
          status,
          error_summary: failed.length ? failed.join('; ') : null,
          // A reschedule made elsewhere moves the post with its waiting targets.
          scheduled_at:
            e.target.due_at && (e.target.state === 'scheduled' || e.target.state === 'draft')
              ? e.target.due_at
              : post.scheduled_at,
          updated_at: e.target.updated_at,
        });
        if (e.target.state === 'failed' && this.settings.notifications) {
          this.toast('error', e.target.last_error ?? `${e.target.account_address} failed`);
        }
        break;
      }
      case 'account_needs_reconnect':
        this.toast('error', `${e.address} needs reconnecting: ${e.reason}`);
        void this.refreshAccounts();
        break;
      case 'account_expiring':
        this.toast('info', e.reason);
        void this.refreshAccounts();
        break;
      case 'health':
        this.health = {
          runner: e.runner,
          paused: e.paused,
          last_wake: e.last_wake,
          next_due: e.next_due,
          queue_depth: e.queue_depth,
          in_flight: e.in_flight,
        };
        if (this.status) {
          this.status = { ...this.status, paused: e.paused, queue_depth: e.queue_depth, running: true };
        }
        break;
      case 'breaker':
        void this.refreshStatus();
        break;
    }
  }
}

export const APP_KEY = Symbol('app');

export function provideApp(app: AppState): void {
  setContext(APP_KEY, app);
}

export function useApp(): AppState {
  const a = getContext<AppState | undefined>(APP_KEY);
  if (!a) throw new Error('no AppState in context');
  return a;
}
