//! Picks the backend at start-up: Tauri when the shell is there, else the memory double
//! (dev server, Playwright), configured by the URL:
//!   ?seed=demo | ?seed=bulk&count=2000   what to start with (default: empty)
//!   ?zone=Europe/Berlin                  the settings' time zone (default: the system's)
//!   ?tick=300                            dispatcher tick in ms (0 = never)
//!   ?runner=off                          simulate "no dispatcher running"
//!   ?fail=a_alice:failed,a_alice:unconfirmed   scripted outcomes of the next attempts
//!   ?approve=1500                        the pretend browser approves connect attempts after 1.5 s
//! OAuth connect in tests: paste `http://127.0.0.1:8723/callback?code=any&state=<the address's
//! state>`, or call `window.__outpost.approve(session, handle)` / `.decline(session)`.

import { getContext, setContext } from 'svelte';
import type { Backend } from './backend';
import { MemoryBackend, type FailureMode } from './memoryBackend';
import { seedBulk, seedDemo } from './seed';
import { createTauriBackend } from './tauriBackend';

export * from './backend';

export function isTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

export function memoryBackendFromQuery(search: string): MemoryBackend {
  const q = new URLSearchParams(search);
  const tick = q.get('tick');
  const b = new MemoryBackend({
    zone: q.get('zone') ?? undefined,
    tickMs: tick === null ? undefined : Number(tick),
    runner: q.get('runner') !== 'off',
    autoApproveMs: q.get('approve') === null ? undefined : Number(q.get('approve')),
  });
  const seed = q.get('seed');
  if (seed === 'demo') seedDemo(b);
  if (seed === 'bulk') seedBulk(b, Number(q.get('count') ?? 2000));
  for (const item of (q.get('fail') ?? '').split(',').filter(Boolean)) {
    const [account, mode] = item.split(':');
    if (account && mode) b.scriptFailure(account, mode as FailureMode);
  }
  return b;
}

export function createBackend(): Backend {
  return isTauri() ? createTauriBackend() : memoryBackendFromQuery(window.location.search);
}

const KEY = Symbol('backend');

export function provideBackend(b: Backend): void {
  setContext(KEY, b);
}

export function useBackend(): Backend {
  const b = getContext<Backend | undefined>(KEY);
  if (!b) throw new Error('no Backend in context: wrap the component in <App> or provideBackend()');
  return b;
}
