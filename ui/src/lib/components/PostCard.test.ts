import { fireEvent, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
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

  it('shows an upload in progress on the card', async () => {
    let account: Account | undefined;
    const h = await setup((b: MemoryBackend) => {
      account = b.addAccount({ id: 'a_yt', network: 'youtube', handle: 'summit' });
    });
    const post = h.backend.insertPost({
      id: 'p_upload',
      content: { parts: [{ text: 'Summit day', media: [] }], variants: {}, first_comment: null, options: {} },
      at: Date.parse('2026-01-01T08:30:00Z'),
      accounts: [account as Account],
      states: ['processing'],
    });
    const target = post.targets[0];
    if (target) target.wait_reason = 'uploading to YouTube — 42 % (920.0 MB of 2.1 GB)';
    h.render(PostCard, { post });
    expect(screen.getByTestId('target-progress')).toHaveTextContent('uploading to YouTube — 42 % (920.0 MB of 2.1 GB)');
    expect(screen.queryByText(/^Waiting:/)).toBeNull();
  });

  it('keeps showing the progress while the next piece is being sent', async () => {
    let account: Account | undefined;
    const h = await setup((b: MemoryBackend) => {
      account = b.addAccount({ id: 'a_yt2', network: 'youtube', handle: 'summit' });
    });
    const post = h.backend.insertPost({
      id: 'p_sending',
      content: { parts: [{ text: 'Summit day', media: [] }], variants: {}, first_comment: null, options: {} },
      at: Date.parse('2026-01-01T08:30:00Z'),
      accounts: [account as Account],
      states: ['sending'],
    });
    const target = post.targets[0];
    if (target) target.wait_reason = 'uploading to YouTube — 17 % (268.4 MB of 1.6 GB)';
    h.render(PostCard, { post });
    expect(screen.getByTestId('target-progress')).toHaveTextContent('uploading to YouTube — 17 %');
  });

  it('links a published network to the live post and offers no reschedule', async () => {
    await card('published');
    expect(screen.getByRole('link', { name: /View post/ }).getAttribute('href')).toMatch(/^https:\/\/bsky\.app\/profile\/me\.bsky\.social\/post\//);
    expect(screen.queryByRole('button', { name: 'Reschedule' })).toBeNull();
  });

  it('shows what the network said with a success (a notice), and nothing without one', async () => {
    let account: Account | undefined;
    const h = await setup((b: MemoryBackend) => {
      account = b.addAccount({ id: 'a_tt', network: 'tiktok', handle: 'me.tt' });
    });
    const notice = 'TikTok: this app is not audited yet, so the video was posted privately (only you can see it)';
    const post = h.backend.insertPost({
      id: 'p_notice',
      content: { parts: [{ text: 'A clip', media: [] }], variants: {}, first_comment: null, options: {} },
      at: Date.parse('2026-01-01T08:30:00Z'),
      accounts: [account as Account],
      states: ['published'],
      extras: [{ publish_id: 'v_pub_1', mode: 'direct', privacy_level: 'SELF_ONLY', notice }],
    });
    h.render(PostCard, { post });
    expect(screen.getByTestId('target-notice')).toHaveTextContent(notice);
    expect(document.querySelector('[data-target-state="published"] .badge')).toHaveTextContent('Posted');
    expect(screen.queryByTestId('target-held')).toBeNull();
  });

  it('reads a post YouTube holds until its time as scheduled there, and still lets it be edited or cancelled', async () => {
    let account: Account | undefined;
    const h = await setup((b: MemoryBackend) => {
      account = b.addAccount({ id: 'a_yt', network: 'youtube', handle: 'me' });
    });
    const post = h.backend.insertPost({
      id: 'p_held',
      content: { parts: [{ text: 'Held', media: [] }], variants: {}, first_comment: null, options: {} },
      at: Date.parse('2099-12-01T08:30:00Z'),
      accounts: [account as Account],
      states: ['published'],
      extras: [
        {
          privacy: 'private',
          scheduled_on_network: '2099-12-01T08:30:00Z',
          notice: 'scheduled on YouTube for 2099-12-01 08:30 UTC; YouTube kept the thumbnail as it was',
        },
      ],
    });
    const onedit = vi.fn();
    h.render(PostCard, { post, onedit });
    expect(document.querySelector('[data-target-state="published"] .badge')).toHaveTextContent('Scheduled on YouTube');
    // The card's own status says so too, not "Posted".
    expect(document.querySelector('header .status')).toHaveTextContent('Scheduled');
    expect(screen.getByTestId('target-held')).toHaveTextContent(
      'YouTube has it and publishes it at this time, even if this computer is off. Editing, rescheduling or cancelling it here changes it on YouTube too. View on YouTube ↗',
    );
    // The UTC line is replaced by the one above; the rest of what YouTube said stays.
    expect(screen.getByTestId('target-notice')).toHaveTextContent(/^YouTube kept the thumbnail as it was$/);
    await fireEvent.click(screen.getByRole('button', { name: 'Edit' }));
    expect(onedit).toHaveBeenCalledWith('p_held');
    expect(screen.getByRole('button', { name: 'Reschedule' })).toBeInTheDocument();
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel post' }));
    await waitFor(async () => expect((await h.backend.getPost('p_held')).post.targets[0]?.state).toBe('cancelled'));
  });

  it('says when a network holds a copy until another time, in the user zone', async () => {
    let account: Account | undefined;
    const h = await setup((b: MemoryBackend) => {
      account = b.addAccount({ id: 'a_fb', network: 'facebook', handle: 'page' });
    });
    const post = h.backend.insertPost({
      id: 'p_held_fb',
      content: { parts: [{ text: 'Held', media: [] }], variants: {}, first_comment: null, options: {} },
      at: Date.parse('2099-12-01T08:30:00Z'),
      accounts: [account as Account],
      states: ['published'],
      extras: [{ scheduled_on_network: '2099-12-02T08:30:00Z', notice: 'scheduled on Facebook for 2099-12-02 08:30 UTC' }],
    });
    h.render(PostCard, { post });
    expect(document.querySelector('[data-target-state="published"] .badge')).toHaveTextContent('Scheduled on Facebook');
    // Europe/Berlin, not UTC; the UTC notice itself is not repeated.
    expect(screen.getByTestId('target-held')).toHaveTextContent(/^Facebook has it and publishes it on Wed,? 2 Dec 2099, 09:30 \S+, even if this computer is off\./);
    expect(screen.queryByTestId('target-notice')).toBeNull();
  });

  it('shows a refused action message on the card', async () => {
    const h = await card('scheduled');
    await h.backend.deletePost('p_card');
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel post' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('post p_card not found');
  });
});
