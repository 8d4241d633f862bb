//! Rendering a component inside the app's contexts, over a memory backend with a hand-cranked
//! dispatcher (tickMs 0) and a fixed zone, for component tests.

import { render } from '@testing-library/svelte';
import type { Component } from 'svelte';
import { MemoryBackend } from '../lib/backend/memoryBackend';
import { AppState, APP_KEY } from '../lib/state/app.svelte';
import { Nav, NAV_KEY } from '../lib/state/nav.svelte';

export async function setup(seed?: (b: MemoryBackend) => void, zone = 'Europe/Berlin') {
  const backend = new MemoryBackend({ tickMs: 0, zone });
  seed?.(backend);
  const app = new AppState(backend);
  await app.start();
  const nav = new Nav();
  const context = new Map<unknown, unknown>([
    [APP_KEY, app],
    [NAV_KEY, nav],
  ]);
  return {
    backend,
    app,
    nav,
    render<P extends Record<string, unknown>>(component: Component<P>, props: P) {
      return render(component as Component, { props, context } as Parameters<typeof render>[1]);
    },
  };
}
