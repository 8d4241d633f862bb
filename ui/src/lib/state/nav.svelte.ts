//! Hash routing (`#/calendar`, `#/compose`, `#/compose/<post id>`, `#/post/<id>`, `#/accounts`,
//! `#/settings`): no reload, so the memory backend's state survives navigation.

import { getContext, setContext } from 'svelte';

export type Route =
  | { name: 'calendar' }
  | { name: 'compose'; editId: string | null }
  | { name: 'accounts' }
  | { name: 'settings' };

export function parseHash(hash: string): { route: Route; openPost: string | null } {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  switch (parts[0]) {
    case 'compose':
      return { route: { name: 'compose', editId: parts[1] ?? null }, openPost: null };
    case 'accounts':
      return { route: { name: 'accounts' }, openPost: null };
    case 'settings':
      return { route: { name: 'settings' }, openPost: null };
    case 'post':
      return { route: { name: 'calendar' }, openPost: parts[1] ?? null };
    default:
      return { route: { name: 'calendar' }, openPost: null };
  }
}

export class Nav {
  route = $state<Route>({ name: 'calendar' });
  openPost = $state<string | null>(null);

  constructor() {
    if (typeof window === 'undefined') return;
    this.sync();
    window.addEventListener('hashchange', () => this.sync());
  }

  private sync(): void {
    const r = parseHash(window.location.hash);
    this.route = r.route;
    this.openPost = r.openPost;
  }

  go(hash: string): void {
    if (window.location.hash === hash) this.sync();
    else window.location.hash = hash;
  }

  calendar(): void {
    this.go('#/calendar');
  }
  compose(editId?: string): void {
    this.go(editId ? `#/compose/${editId}` : '#/compose');
  }
  open(postId: string): void {
    this.go(`#/post/${postId}`);
  }
  closePost(): void {
    this.go('#/calendar');
  }
}

export const NAV_KEY = Symbol('nav');
export const provideNav = (n: Nav): void => void setContext(NAV_KEY, n);
export function useNav(): Nav {
  const n = getContext<Nav | undefined>(NAV_KEY);
  if (!n) throw new Error('no Nav in context');
  return n;
}
