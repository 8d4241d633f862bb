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

  it("shows Instagram's live publishing limit for the account", async () => {
    await compose();
    await fireEvent.click(screen.getByLabelText(/instagram:me\.ig/));
    await waitFor(() => expect(screen.getByTestId('instagram-quota')).toHaveTextContent('Publishing limit: 3 of 100 posts in 24 h.'));
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

  it('asks who can watch a TikTok video, shows the account\'s limits, and checks the video against them', async () => {
    const h = await setup((b) => {
      b.addAccount({ id: 'a_tt', network: 'tiktok', handle: 'me.tt' });
      b.queuePick({ mime: 'video/mp4', path: '/Videos/long.mp4', duration_secs: 700 }, { mime: 'video/mp4', path: '/Videos/short.mp4', duration_secs: 42 });
    });
    const ondone = vi.fn();
    h.render(Compose, { editId: null, ondone });
    await fireEvent.input(screen.getByLabelText('Text'), { target: { value: 'Oil finish #woodworking' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Add media…' }));
    const group = screen.getByRole('group', { name: /Options for tiktok:me\.tt/ });
    expect(await within(group).findByTestId('tiktok-max')).toHaveTextContent('Videos up to 10 min for this account');
    const privacy = within(group).getByLabelText('Who can watch this video') as HTMLSelectElement;
    await waitFor(() => expect(privacy).not.toBeDisabled());
    expect(privacy.value).toBe('');
    expect(privacy).toHaveAttribute('aria-invalid', 'true');
    expect(within(privacy).getByRole('option', { name: 'Only me' })).toBeInTheDocument();
    expect(within(checks()).getByText('TikTok: choose who can watch this video for tiktok:me.tt')).toBeInTheDocument();
    expect(within(checks()).getByText('TikTok: long.mp4 is 11 min 40 s long; this account can post videos up to 10 min — trim it')).toBeInTheDocument();
    expect(screen.getByTestId('submit')).toBeDisabled();

    await fireEvent.change(privacy, { target: { value: 'SELF_ONLY' } });
    await waitFor(() => expect(within(checks()).queryByText(/choose who can watch/)).toBeNull());
    await fireEvent.click(screen.getByRole('button', { name: 'Remove long.mp4' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Add media…' }));
    await waitFor(() => expect(within(checks()).queryByText(/this account can post videos up to/)).toBeNull());
    await fireEvent.click(within(group).getByLabelText('Allow comments'));
    await fireEvent.input(screen.getByTestId('schedule-at'), { target: { value: '2099-12-01T09:30' } });
    await waitFor(() => expect(screen.getByTestId('submit')).toBeEnabled());
    await fireEvent.click(screen.getByTestId('submit'));
    await waitFor(() => expect(ondone).toHaveBeenCalled());
    const [post] = await h.backend.listPosts();
    expect(post?.content.options).toEqual({ 'tiktok:me.tt': { privacy_level: 'SELF_ONLY', disable_comment: true } });
  });

  it('greys out what the TikTok account turned off, and the inbox needs no privacy level', async () => {
    const h = await setup((b) => {
      b.addAccount({ id: 'a_tt', network: 'tiktok', handle: 'me.tt' });
      b.choices.set('a_tt:creator_info', [
        { id: 'PUBLIC_TO_EVERYONE', name: 'Everyone', extra: null },
        { id: 'FOLLOWER_OF_CREATOR', name: 'Followers', extra: null },
        { id: 'SELF_ONLY', name: 'Only me', extra: null },
        { id: 'duet_disabled', name: 'Duet is off', extra: null },
      ]);
    });
    h.render(Compose, { editId: null, ondone: vi.fn() });
    const group = screen.getByRole('group', { name: /Options for tiktok:me\.tt/ });
    const duet = within(group).getByLabelText(/Allow Duet/) as HTMLInputElement;
    await waitFor(() => expect(duet).toBeDisabled());
    expect(duet.checked).toBe(false);
    expect(within(group).getByLabelText('Allow Stitch')).toBeEnabled();
    expect(within(group).queryByTestId('tiktok-max')).toBeNull();
    expect((within(group).getByLabelText('Who can watch this video') as HTMLSelectElement).options).toHaveLength(4);
    await fireEvent.click(within(group).getByLabelText('Send to my TikTok inbox as a draft'));
    expect(within(group).queryByLabelText('Who can watch this video')).toBeNull();
    await waitFor(() => expect(within(checks()).queryByText(/choose who can watch/)).toBeNull());
  });

  it('sets a YouTube title, tags and hand-off (offered only for a scheduled post)', async () => {
    const h = await setup((b) => {
      b.addAccount({ id: 'a_yt', network: 'youtube', handle: 'me' });
      b.queuePick({ mime: 'video/mp4', path: '/Videos/table.mp4', duration_secs: 312 });
    });
    const ondone = vi.fn();
    h.render(Compose, { editId: null, ondone });
    await fireEvent.input(screen.getByLabelText('Text'), { target: { value: '\nA walnut side table\nFrom rough boards to oil.' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Add media…' }));
    const group = screen.getByRole('group', { name: /Options for youtube:me/ });
    const title = within(group).getByLabelText('Title');
    expect(title).toHaveAttribute('placeholder', 'A walnut side table');
    expect((within(group).getByLabelText("No, it's not made for kids") as HTMLInputElement).checked).toBe(true);
    expect((within(group).getByLabelText('Privacy') as HTMLSelectElement).value).toBe('public');
    const handOff = within(group).getByLabelText('Let YouTube publish it at the scheduled time') as HTMLInputElement;
    expect(handOff.checked).toBe(true);
    await fireEvent.click(screen.getByLabelText('Post now'));
    expect(within(group).queryByLabelText('Let YouTube publish it at the scheduled time')).toBeNull();
    await fireEvent.click(screen.getByLabelText('Schedule'));

    await fireEvent.input(title, { target: { value: 'Walnut <side> table' } });
    expect(within(checks()).getByText('YouTube: the title contains < or >, which YouTube refuses — remove them')).toBeInTheDocument();
    await fireEvent.input(title, { target: { value: 'Walnut side table' } });
    await fireEvent.input(within(group).getByLabelText(/Tags/), { target: { value: 'woodworking, #walnut, ' } });
    await fireEvent.click(within(group).getByLabelText('Let YouTube publish it at the scheduled time'));
    await fireEvent.input(screen.getByTestId('schedule-at'), { target: { value: '2099-12-01T09:30' } });
    await waitFor(() => expect(screen.getByTestId('submit')).toBeEnabled());
    await fireEvent.click(screen.getByTestId('submit'));
    await waitFor(() => expect(ondone).toHaveBeenCalled());
    const [post] = await h.backend.listPosts();
    expect(post?.content.options).toEqual({
      'youtube:me': { made_for_kids: false, title: 'Walnut side table', tags: ['woodworking', 'walnut'], hand_off: false },
    });
  });

  it('offers Facebook hand-off only 10 minutes or more ahead, Reels only for one video, and says when Instagram needs a bucket', async () => {
    const h = await setup((b) => {
      b.addAccount({ id: 'a_fb', network: 'facebook', handle: 'page' });
      b.addAccount({ id: 'a_ig', network: 'instagram', handle: 'me.ig' });
      b.queuePick({ mime: 'video/mp4', path: '/Videos/reel.mp4', duration_secs: 20, width: 1080, height: 1920 });
    });
    const ondone = vi.fn();
    h.render(Compose, { editId: null, ondone });
    await fireEvent.input(screen.getByLabelText('Text'), { target: { value: 'Open workshop on Saturday' } });
    await fireEvent.input(screen.getByTestId('schedule-at'), { target: { value: '2099-12-01T09:30' } });
    const group = screen.getByRole('group', { name: /Options for facebook:page/ });
    const hold = within(group).getByLabelText('Let Facebook publish it at the scheduled time, even if this computer is off');
    expect(group).toHaveTextContent('Editing or cancelling it in Outpost updates or deletes it on Facebook.');
    expect(within(group).queryByLabelText('Post as a Reel')).toBeNull();
    await fireEvent.click(hold);
    await fireEvent.click(screen.getByRole('button', { name: 'Add media…' }));
    await fireEvent.click(within(group).getByLabelText('Post as a Reel'));

    // Posted now: no hand-off (and it is not sent).
    await fireEvent.click(screen.getByLabelText('Post now'));
    expect(within(group).queryByLabelText(/Let Facebook publish it/)).toBeNull();

    await fireEvent.click(screen.getByLabelText(/instagram:me\.ig/));
    const ig = screen.getByRole('group', { name: /Options for instagram:me\.ig/ });
    expect(within(ig).getByTestId('staging-note')).toHaveTextContent(
      'Instagram fetches your media from a public address — set up a bucket in Settings › Media staging',
    );
    expect(within(ig).getByRole('link', { name: 'Settings › Media staging' })).toHaveAttribute('href', '#/settings/media-staging');
    await fireEvent.click(screen.getByLabelText(/instagram:me\.ig/));

    await fireEvent.click(screen.getByLabelText('Schedule'));
    await waitFor(() => expect(screen.getByTestId('submit')).toBeEnabled());
    await fireEvent.click(screen.getByTestId('submit'));
    await waitFor(() => expect(ondone).toHaveBeenCalled());
    const [post] = await h.backend.listPosts();
    expect(post?.content.options).toEqual({ 'facebook:page': { hand_off: true, reel: true } });
  });
});
