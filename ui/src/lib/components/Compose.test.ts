import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { setup } from '../../test/harness';
import Compose from './Compose.svelte';

async function compose() {
  const h = await setup((b) => {
    b.addAccount({ id: 'a_bsky', network: 'bluesky', handle: 'me.bsky.social' });
    b.addAccount({ id: 'a_x', network: 'x', handle: 'me_x' });
    b.addAccount({ id: 'a_ig', network: 'instagram', handle: 'me.ig' });
  });
  const ondone = vi.fn();
  h.render(Compose, { editId: null, ondone });
  const text = screen.getByLabelText('Text') as HTMLTextAreaElement;
  return { ...h, ondone, text };
}

const counter = (part: number, network: string) =>
  screen.getByTestId(`counters-${part}`).querySelector(`[data-network="${network}"]`) as HTMLElement;
const checks = () => screen.getByTestId('checks');

describe('Compose', () => {
  it('counts live per network, each network its own way', async () => {
    const { text } = await compose();
    await fireEvent.click(screen.getByLabelText(/x:me_x/));
    await fireEvent.input(text, { target: { value: '日本 👨‍👩‍👧‍👦 https://example.com/a/very/long/path' } });
    // Bluesky: graphemes; X: CJK 2 each, emoji sequence 2, URL 23.
    expect(counter(0, 'bluesky').dataset.count).toBe(String([...new Intl.Segmenter().segment('日本 👨‍👩‍👧‍👦 https://example.com/a/very/long/path')].length));
    expect(counter(0, 'x').dataset.count).toBe(String(4 + 1 + 2 + 1 + 23));
    expect(counter(0, 'bluesky')).toHaveTextContent(/\/300/);
    expect(counter(0, 'bluesky')).not.toHaveClass('over');
  });

  it('marks the counter over the limit and shows the engine message inline', async () => {
    const { text } = await compose();
    await fireEvent.input(text, { target: { value: 'a'.repeat(312) } });
    expect(counter(0, 'bluesky')).toHaveClass('over');
    expect(counter(0, 'bluesky')).toHaveTextContent('312/300');
    expect(text).toHaveAttribute('aria-invalid', 'true');
    expect(
      within(checks()).getByText('Bluesky: text is 312 characters (graphemes); the limit is 300 — shorten it by 12'),
    ).toBeInTheDocument();
    expect(screen.getByTestId('submit')).toBeDisabled();
  });

  it('says Instagram needs media', async () => {
    const { text } = await compose();
    await fireEvent.input(text, { target: { value: 'a caption' } });
    await fireEvent.click(screen.getByLabelText(/instagram:me\.ig/));
    expect(within(checks()).getByText('Instagram: Instagram posts require at least one media file')).toBeInTheDocument();
    expect(screen.getByTestId('submit')).toBeDisabled();
  });

  it('refuses a fifth image for Bluesky', async () => {
    const { text } = await compose();
    await fireEvent.input(text, { target: { value: 'photos' } });
    const add = screen.getByRole('button', { name: 'Add media…' });
    for (let i = 0; i < 5; i++) await fireEvent.click(add);
    await waitFor(() => expect(screen.getAllByPlaceholderText('Alt text (describe the image)')).toHaveLength(5));
    expect(within(checks()).getByText('Bluesky: 5 images attached; Bluesky takes at most 4 — remove 1')).toBeInTheDocument();
    await fireEvent.click(screen.getAllByRole('button', { name: /^Remove photo-/ })[0] as HTMLElement);
    await waitFor(() => expect(within(checks()).queryByText(/5 images attached/)).toBeNull());
  });

  it('counts a per-network variant instead of the main text', async () => {
    const { text } = await compose();
    await fireEvent.click(screen.getByLabelText(/x:me_x/));
    await fireEvent.input(text, { target: { value: 'short' } });
    await fireEvent.click(screen.getByRole('button', { name: /Customize for X/ }));
    await fireEvent.input(screen.getByLabelText('Text for X'), { target: { value: 'x'.repeat(281) } });
    expect(counter(0, 'x')).toHaveClass('over');
    expect(counter(0, 'bluesky')).not.toHaveClass('over');
    expect(within(checks()).getByText('X: text is 281 weighted characters; the limit is 280 — shorten it by 1')).toBeInTheDocument();
  });

  it('schedules a valid post in the user zone', async () => {
    const { text, backend, ondone } = await compose();
    await fireEvent.input(text, { target: { value: 'Hello from a test' } });
    await fireEvent.input(screen.getByTestId('schedule-at'), { target: { value: '2099-12-01T09:30' } });
    expect(screen.getByText(/in Europe\/Berlin/)).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('submit'));
    await waitFor(() => expect(ondone).toHaveBeenCalled());
    const [post] = await backend.listPosts();
    expect(post?.scheduled_at).toBe('2099-12-01T08:30:00.000Z');
    expect(post?.targets.map((t) => t.account_address)).toEqual(['bluesky:me.bsky.social']);
  });

  it('preselects the default board of a Pinterest account and sends the options under its address', async () => {
    const h = await setup((b) => {
      b.addAccount({ id: 'a_bsky', network: 'bluesky', handle: 'me.bsky.social' });
      b.addAccount({ id: 'a_pin', network: 'pinterest', handle: 'alice', settings: { board_id: '549755885176' } });
    });
    const ondone = vi.fn();
    h.render(Compose, { editId: null, ondone });
    await fireEvent.input(screen.getByLabelText('Text'), { target: { value: 'A new table' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Add media…' }));
    await fireEvent.click(screen.getByLabelText(/pinterest:alice/));
    const group = screen.getByRole('group', { name: /Options for pinterest:alice/ });
    const board = within(group).getByLabelText('Board') as HTMLSelectElement;
    await waitFor(() => expect(board).not.toBeDisabled());
    expect(board.value).toBe('549755885176');
    expect(board).toHaveAttribute('aria-invalid', 'false');
    await fireEvent.input(within(group).getByLabelText(/Title/), { target: { value: 't'.repeat(101) } });
    expect(within(checks()).getByText('Pinterest: the pin title is 101 characters; the limit is 100 — shorten it')).toBeInTheDocument();
    expect(screen.getByTestId('submit')).toBeDisabled();
    await fireEvent.input(within(group).getByLabelText(/Title/), { target: { value: 'Walnut' } });
    await fireEvent.input(screen.getByTestId('schedule-at'), { target: { value: '2099-12-01T09:30' } });
    await fireEvent.click(screen.getByTestId('submit'));
    await waitFor(() => expect(ondone).toHaveBeenCalled());
    const [post] = await h.backend.listPosts();
    expect(post?.content.options).toEqual({ 'pinterest:alice': { board_id: '549755885176', title: 'Walnut' } });
  });

  it('loads a post\'s options when editing it, and LinkedIn posts as the member or a page', async () => {
    const h = await setup((b) => {
      const pin = b.addAccount({ id: 'a_pin', network: 'pinterest', handle: 'alice' });
      const li = b.addAccount({ id: 'a_li', network: 'linkedin', handle: 'alice-m', display_name: 'Alice M' });
      const m = b.stageMedia({ mime: 'image/png' });
      const { thumbnail: _t, duration_secs: _d, ...ref } = m;
      b.insertPost({
        id: 'p_pin',
        content: {
          parts: [{ text: 'pinned', media: [ref] }],
          variants: {},
          first_comment: null,
          options: { 'pinterest:alice': { board_id: '549755885177', link: 'https://example.com/x' } },
        },
        at: Date.parse('2099-12-01T08:30:00Z'),
        accounts: [pin, li],
      });
    });
    const ondone = vi.fn();
    h.render(Compose, { editId: 'p_pin', ondone });
    const pin = screen.getByRole('group', { name: /Options for pinterest:alice/ });
    await waitFor(() => expect((within(pin).getByLabelText('Board') as HTMLSelectElement).value).toBe('549755885177'));
    expect(within(pin).getByLabelText(/Destination link/)).toHaveValue('https://example.com/x');
    const li = screen.getByRole('group', { name: /Options for linkedin:alice-m/ });
    const author = within(li).getByLabelText('Post as') as HTMLSelectElement;
    await waitFor(() => expect(author).not.toBeDisabled());
    // Not in the post: the member, as the engine reads it.
    expect(author.value).toBe('');
    await fireEvent.change(author, { target: { value: 'urn:li:organization:2414183' } });
    await fireEvent.click(screen.getByTestId('submit'));
    await waitFor(() => expect(ondone).toHaveBeenCalled());
    const post = h.backend.posts.get('p_pin');
    expect(post?.content.options).toEqual({
      'pinterest:alice': { board_id: '549755885177', link: 'https://example.com/x' },
      'linkedin:alice-m': { author: 'urn:li:organization:2414183' },
    });
  });
});
