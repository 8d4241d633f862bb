import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { setup } from '../../test/harness';
import AccountsView from './AccountsView.svelte';

async function accounts() {
  const h = await setup((b) => {
    b.addAccount({
      id: 'a_x',
      network: 'x',
      handle: 'alice_makes',
      status: 'needs_reconnect',
      status_reason: 'X: the access token was revoked — reconnect the account in Accounts',
    });
    b.addAccount({ id: 'a_pin', network: 'pinterest', handle: 'alicemakes' });
    b.addAccount({ id: 'a_li', network: 'linkedin', handle: 'alice-martin', display_name: 'Alice Martin' });
    void b.setAppCredentials('x', 'x-client');
  });
  h.render(AccountsView, {});
  return h;
}

describe('AccountsView', () => {
  it("connects another of a Facebook sign-in's Pages as an account of its own", async () => {
    const h = await setup((b) => {
      b.addAccount({ id: 'a_fb', network: 'facebook', handle: 'adasbakery', remote_id: '104000000001', display_name: "Ada's Bakery" });
    });
    h.render(AccountsView, {});
    const row = document.querySelector('[data-account-id="a_fb"]') as HTMLElement;
    await fireEvent.click(within(row).getByRole('button', { name: 'Add another Page…' }));
    const select = (await within(row).findByLabelText('Add a Page')) as HTMLSelectElement;
    // The Page already connected is not offered again.
    expect([...select.options].map((o) => o.textContent)).toEqual(["Ada's Cafe"]);
    await fireEvent.click(within(row).getByRole('button', { name: 'Connect this Page' }));
    await waitFor(async () => expect((await h.backend.listAccounts()).map((a) => a.handle)).toContain('adascafe'));
  });

  it('reconnects an X account in the browser; the same account comes back active', async () => {
    const { backend } = await accounts();
    const row = document.querySelector('[data-account-id="a_x"]') as HTMLElement;
    await fireEvent.click(within(row).getByRole('button', { name: 'Reconnect' }));
    const dialog = await screen.findByRole('dialog', { name: 'Reconnect x:alice_makes' });
    await waitFor(() => expect(within(dialog).getByTestId('connect-waiting')).toHaveTextContent('Waiting for X…'));
    expect(within(dialog).getByText(/Sign in as alice_makes/)).toBeInTheDocument();
    const [pending] = backend.pendingConnects();
    expect(pending?.network).toBe('x');
    backend.approve(pending!.session, 'alice_makes');
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(backend.accounts.get('a_x')?.status).toBe('active');
    expect([...backend.accounts.values()].filter((a) => a.network === 'x')).toHaveLength(1);
    await waitFor(() => expect(within(row).queryByRole('button', { name: 'Reconnect' })).toBeNull());
  });

  it('shows a refused pasted address inline, and Cancel forgets the attempt', async () => {
    const { backend } = await accounts();
    await fireEvent.click(screen.getByRole('button', { name: 'Connect X account' }));
    const dialog = await screen.findByRole('dialog', { name: 'Connect your X account' });
    await waitFor(() => expect((within(dialog).getByTestId('authorize-url') as HTMLInputElement).value).toContain('x.com/i/oauth2/authorize'));
    await fireEvent.input(within(dialog).getByLabelText('Paste the address you were sent to'), {
      target: { value: 'https://example.com/somewhere' },
    });
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Use this address' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      'X: that does not look like the address the browser was sent to — copy the whole address from the address bar (it contains code= and state=)',
    );
    expect(backend.pendingConnects()).toHaveLength(1);
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(backend.pendingConnects()).toEqual([]);
  });

  it('offers a link to Settings when the app credentials are missing', async () => {
    await accounts();
    await fireEvent.click(screen.getByRole('button', { name: 'Connect Pinterest account' }));
    const dialog = await screen.findByRole('dialog', { name: 'Connect your Pinterest account' });
    const alert = await within(dialog).findByRole('alert');
    expect(alert).toHaveTextContent('Pinterest: no client id — create your Pinterest developer app (docs/networks/pinterest.md)');
    expect(within(alert).getByRole('link', { name: 'Open Settings › App credentials' })).toHaveAttribute(
      'href',
      '#/settings/app-credentials/pinterest',
    );
    expect(within(dialog).getByRole('button', { name: 'Start again' })).toBeInTheDocument();
  });

  it('saves a default board for Pinterest and a page to post as for LinkedIn', async () => {
    const { backend } = await accounts();
    const board = screen.getByLabelText('Default board') as HTMLSelectElement;
    await waitFor(() => expect(board).not.toBeDisabled());
    expect(within(board).getByRole('option', { name: 'Ideas for later (secret)' })).toBeInTheDocument();
    await fireEvent.change(board, { target: { value: '549755885176' } });
    await waitFor(() => expect(backend.accounts.get('a_pin')?.settings).toEqual({ board_id: '549755885176' }));
    const pinRow = document.querySelector('[data-account-id="a_pin"]') as HTMLElement;
    expect(await within(pinRow).findByRole('status')).toHaveTextContent('Saved.');

    const author = screen.getByLabelText('Post as') as HTMLSelectElement;
    await waitFor(() => expect(author).not.toBeDisabled());
    expect(author.value).toBe('');
    expect(within(author).getByRole('option', { name: 'Alice Martin (you)' })).toBeInTheDocument();
    await fireEvent.change(author, { target: { value: 'urn:li:organization:2414183' } });
    await waitFor(() => expect(backend.accounts.get('a_li')?.settings).toEqual({ author: 'urn:li:organization:2414183' }));
    await fireEvent.change(author, { target: { value: '' } });
    await waitFor(() => expect(backend.accounts.get('a_li')?.settings).toEqual({}));
  });

  it('connects a Facebook Page through the relay page: asked first, then the pasted address finishes it', async () => {
    const { backend } = await accounts();
    await backend.setAppCredentials('facebook', 'fb-app', 'fb-secret');
    await fireEvent.click(screen.getByRole('button', { name: 'Connect Facebook account' }));
    const dialog = await screen.findByRole('dialog', { name: 'Connect your Facebook account' });
    expect(within(dialog).getByTestId('connect-dialog')).toHaveAttribute('data-phase', 'setup');
    expect(backend.pendingConnects()).toEqual([]);
    // Without a relay page the engine refuses (Meta takes https redirects only); the field stays.
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Open Facebook' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      "Facebook: Facebook only sends sign-ins back to an https:// address — host Outpost's relay page (docs/oauth-relay.html)",
    );
    const relay = within(dialog).getByLabelText(/Relay page address/);
    await fireEvent.input(relay, { target: { value: 'https://you.github.io/oauth-relay.html' } });
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Open Facebook' }));
    await waitFor(() => expect(within(dialog).getByTestId('connect-waiting')).toHaveTextContent('Waiting for Facebook…'));
    expect(within(dialog).getByTestId('https-line')).toHaveTextContent(
      'Facebook sends you back to an https address: paste the address you end up on here.',
    );
    const [pending] = backend.pendingConnects();
    backend.signedIn.facebook = 'martinwoodworks';
    await fireEvent.input(within(dialog).getByLabelText('Paste the address you were sent to'), {
      target: { value: `https://you.github.io/oauth-relay.html?code=AQB&state=${pending!.state}#_` },
    });
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Use this address' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect([...backend.accounts.values()].find((a) => a.network === 'facebook')?.handle).toBe('martinwoodworks');

    // Next time the relay page is offered again.
    await fireEvent.click(screen.getByRole('button', { name: 'Connect Facebook account' }));
    const again = await screen.findByRole('dialog', { name: 'Connect your Facebook account' });
    expect(within(again).getByLabelText(/Relay page address/)).toHaveValue('https://you.github.io/oauth-relay.html');
  });
});
