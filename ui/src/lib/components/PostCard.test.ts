import { fireEvent, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import type { Account } from '../bindings/Account';
import type { TargetState } from '../bindings/TargetState';
import type { MemoryBackend } from '../backend/memoryBackend';
import { TARGET_LABEL } from '../rules/status';
import { setup } from '../../test/harness';
import PostCard from './PostCard.svelte';

const ALL: TargetState[] = ['draft', 'scheduled', 'claimed', 'sending', 'processing', 'published', 'failed', 'unconfirmed', 'missed', 'cancelled'];
const ERROR = 'Bluesky: the server is unavailable (HTTP 503 NotEnoughResources) — gave up after 6 attempts';

async function card(state: TargetState, error: string | null = null) {
  let account: Account | undefined;
  const h = await setup((b: MemoryBackend) => {
    account = b.addAccount({ id: 'a_me', network: 'bluesky', handle: 'me.bsky.social' });
  });
  const post = h.backend.insertPost({
    id: 'p_card',
    content: { parts: [{ text: 'Card text', media: [] }], variants: {}, first_comment: null, options: {} },
    at: Date.parse('2099-12-01T08:30:00Z'),
    accounts: [account as Account],
    states: [state],
    errors: [error],
  });
  h.render(PostCard, { post });
  return h;
}

describe('PostCard', () => {
  it.each(ALL)('shows the %s badge', async (state) => {
    await card(state);
    const badge = document.querySelector(`[data-target-state="${state}"] .badge`);
    expect(badge).toHaveTextContent(TARGET_LABEL[state]);
    expect(badge).toHaveAttribute('data-state', state);
  });

  it('shows the failed network error on the card, and Retry', async () => {
    const h = await card('failed', ERROR);
    expect(screen.getByTestId('target-error')).toHaveTextContent(ERROR);
    await fireEvent.click(screen.getByRole('button', { name: /^Retry/ }));
    await waitFor(async () => expect((await h.backend.getPost('p_card')).post.targets[0]?.state).toBe('scheduled'));
  });

  it('offers "It was posted" and "Post again" for an unconfirmed network', async () => {
    const h = await card('unconfirmed', 'Bluesky: the connection dropped after the post was sent');
    expect(screen.getByRole('button', { name: 'It was posted' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Post again' })).toBeInTheDocument();
    await fireEvent.click(screen.getByRole('button', { name: 'It was posted' }));
    await waitFor(async () => expect((await h.backend.getPost('p_card')).post.status).toBe('published'));
  });

  it('links a published network to the live post and offers no reschedule', async () => {
    await card('published');
    expect(screen.getByRole('link', { name: /View post/ }).getAttribute('href')).toMatch(/^https:\/\/bsky\.app\/profile\/me\.bsky\.social\/post\//);
    expect(screen.queryByRole('button', { name: 'Reschedule' })).toBeNull();
  });

  it('shows what the network said with a success (a notice), and nothing without one', async () => {
    let account: Account | undefined;
    const h = await setup((b: MemoryBackend) => {
      account = b.addAccount({ id: 'a_tt', network: 'bluesky', handle: 'me.bsky.social' });
    });
    const post = h.backend.insertPost({
      id: 'p_notice',
      content: { parts: [{ text: 'Held', media: [] }], variants: {}, first_comment: null, options: {} },
      at: Date.parse('2099-12-01T08:30:00Z'),
      accounts: [account as Account],
      states: ['published'],
      errors: [null],
    });
    const notice = 'scheduled on YouTube for 2099-12-01 09:30';
    const target = post.targets[0];
    if (target) target.progress = [{ remote_id: 'v1', url: null, extra: { notice, scheduled_on_network: '2099-12-01T09:30:00Z' } }];
    h.render(PostCard, { post });
    expect(screen.getByTestId('target-notice')).toHaveTextContent(notice);
    // Held by the network until a time still ahead: not "Posted" yet.
    expect(document.querySelector('[data-target-state="published"] .badge')).toHaveTextContent('Scheduled on Bluesky');
  });

  it('shows a refused action message on the card', async () => {
    const h = await card('scheduled');
    await h.backend.deletePost('p_card');
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel post' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('post p_card not found');
  });
});
