import { screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import type { Account } from '../bindings/Account';
import type { MemoryBackend } from '../backend/memoryBackend';
import { setup } from '../../test/harness';
import StatusBar from './StatusBar.svelte';

describe('StatusBar', () => {
  it('counts posts a network is still processing in the queue line', async () => {
    let account: Account | undefined;
    const h = await setup((b: MemoryBackend) => {
      account = b.addAccount({ id: 'a_yt', network: 'youtube', handle: 'summit' });
    });
    h.backend.insertPost({
      id: 'p_processing',
      content: { parts: [{ text: 'Summit day', media: [] }], variants: {}, first_comment: null, options: {} },
      at: Date.parse('2026-01-01T08:30:00Z'),
      accounts: [account as Account],
      states: ['processing'],
    });
    await h.app.refreshStatus();
    h.render(StatusBar, {});
    expect(screen.getByTestId('queue-depth')).toHaveTextContent('1 processing on the network');
  });

  it('says nothing of processing when no network has a post', async () => {
    const h = await setup();
    await h.app.refreshStatus();
    h.render(StatusBar, {});
    expect(screen.getByTestId('queue-depth')).not.toHaveTextContent('processing');
  });
});
