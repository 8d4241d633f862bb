import { expect, test } from '@playwright/test';
import { chipByText, dateIn, drag, postState, shot, ZONE } from './helpers';

test('compose → schedule → the post is on the calendar and in the queue', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=300#/compose`);
  const text = page.getByRole('textbox', { name: 'Text', exact: true });
  await text.fill('Launch day! The new catalogue is online https://example.com/catalogue #launch');
  await expect(page.getByTestId('counters-0').locator('[data-network="bluesky"]')).toContainText('/300');

  // Try other networks: their counters, checks and previews appear, then leave them out.
  await page.getByLabel(/x:alice_makes/).check();
  await page.getByLabel(/instagram:alice\.makes/).check();
  await expect(page.getByTestId('checks')).toContainText('Instagram: Instagram posts require at least one media file');
  await expect(page.getByTestId('checks')).toContainText('X: daily quota reached for x:alice_makes');
  await expect(page.getByTestId('submit')).toBeDisabled();
  await page.getByRole('tab', { name: /X/ }).click();
  await shot(page, '01-compose-checks');
  await page.getByLabel(/instagram:alice\.makes/).uncheck();
  await page.getByLabel(/x:alice_makes/).uncheck();

  const day = dateIn(ZONE, 2);
  await page.getByTestId('schedule-at').fill(`${day}T11:00`);
  await expect(page.getByText(`in ${ZONE}`)).toBeVisible();
  await expect(page.getByTestId('checks')).toContainText('Ready for Bluesky');
  await shot(page, '02-compose-ready');
  await page.getByTestId('submit').click();

  await expect(page.getByText(/Scheduled for/)).toBeVisible();
  const chip = await chipByText(page, 'Launch day!');
  await expect(chip).toHaveAttribute('data-status', 'scheduled');
  await expect(page.locator(`td[data-date="${day}"] .fc-event`, { hasText: 'Launch day!' })).toBeVisible();
  const card = page.getByTestId('queue-list').locator('article', { hasText: 'Launch day!' });
  await expect(card).toBeVisible();
  await expect(card.locator('.badge')).toHaveText('Scheduled');
  await expect(card).toContainText('11:00');
  await shot(page, '03-calendar-after-schedule');
});

test('drag a pending post to another day; dragging a published one is refused', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=0#/calendar`);
  const chip = page.locator('.fc-daygrid-event[data-post-id="p_tomorrow"]');
  await expect(chip).toBeVisible();
  const from = await chip.evaluate((el) => el.closest('td[data-date]')?.getAttribute('data-date'));
  const target = await page.evaluate((d) => {
    const dates = [...document.querySelectorAll('td.fc-daygrid-day[data-date]')].map((td) => td.getAttribute('data-date') ?? '');
    return dates.filter((x) => x > (d ?? '')).at(1) ?? dates.filter((x) => x > (d ?? ''))[0];
  }, from);
  expect(target, 'a later day is on the grid').toBeTruthy();
  await drag(page, chip, page.locator(`td[data-date="${target}"] .fc-daygrid-day-frame`));
  await expect(page.locator(`td[data-date="${target}"] [data-post-id="p_tomorrow"]`)).toBeVisible();
  await expect(page.getByTestId('calendar-message')).toContainText('Moved to');
  const moved = await postState(page, 'p_tomorrow');
  // 09:30 in Berlin is 08:30 or 07:30 UTC: the same calendar day.
  expect(moved.scheduled_at?.slice(0, 10)).toBe(target);
  await shot(page, '04-calendar-after-drag');

  const published = page.locator('.fc-daygrid-event[data-post-id="p_published"]');
  // Yesterday may be in last month's grid (when today is the 1st).
  if ((await published.count()) === 0) await page.locator('.fc-prev-button').click();
  const pubDay = await published.evaluate((el) => el.closest('td[data-date]')?.getAttribute('data-date'));
  const before = (await postState(page, 'p_published')).scheduled_at;
  const elsewhere = await page.evaluate(
    (d) => [...document.querySelectorAll('td.fc-daygrid-day[data-date]')].map((td) => td.getAttribute('data-date')).find((x) => x !== d && x! > d!),
    pubDay,
  );
  await drag(page, published, page.locator(`td[data-date="${elsewhere}"] .fc-daygrid-day-frame`));
  await expect(page.getByTestId('calendar-message')).toContainText(
    'This post cannot be moved. It is already published — a published post cannot be moved.',
  );
  await expect(page.locator(`td[data-date="${pubDay}"] [data-post-id="p_published"]`)).toBeVisible();
  expect((await postState(page, 'p_published')).scheduled_at).toBe(before);
  await shot(page, '05-calendar-drag-refused');
});

test('a failed card shows the error, and Retry makes it posted', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=300#/post/p_failed`);
  const dialog = page.getByRole('dialog', { name: 'Post' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId('target-error')).toHaveText(
    'Bluesky: the server is unavailable (HTTP 503 NotEnoughResources) — gave up after 6 attempts',
  );
  await shot(page, '06-failed-post');
  await dialog.getByRole('button', { name: /^Retry/ }).click();
  await expect(dialog.locator('[data-target-state="published"] .badge')).toHaveText('Posted');
  await expect(dialog.getByRole('link', { name: /View post/ })).toBeVisible();
  await expect(dialog.getByTestId('target-error')).toHaveCount(0);
  await expect(dialog).toContainText('succeeded');
  await shot(page, '07-retried-post');
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(page.locator('.fc-event[data-post-id="p_failed"]')).toHaveAttribute('data-status', 'published');
});

test('a post that fails while publishing shows its error on the card, live', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=300&fail=a_alice:failed#/compose`);
  await page.getByRole('textbox', { name: 'Text', exact: true }).fill('Flash sale, today only');
  await page.getByLabel('Post now').check();
  await page.getByTestId('submit').click();
  const card = page.locator('.queue article', { hasText: 'Flash sale' }).first();
  await expect(card.getByTestId('target-error')).toHaveText(
    'Bluesky: the server is unavailable (HTTP 503 NotEnoughResources) — gave up after 6 attempts',
  );
  await expect(card.locator('.badge')).toHaveText('Failed');
  await shot(page, '08-live-failure');
  await card.getByRole('button', { name: /^Retry/ }).click();
  const chip = await chipByText(page, 'Flash sale');
  await expect(chip).toHaveAttribute('data-status', 'published');
});

test('unconfirmed: "It was posted" settles it', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=300#/post/p_unconfirmed`);
  const dialog = page.getByRole('dialog', { name: 'Post' });
  await expect(dialog.getByRole('button', { name: 'Post again' })).toBeVisible();
  await dialog.getByRole('button', { name: 'It was posted' }).click();
  await expect(dialog.locator('[data-target-state="published"] .badge')).toHaveText('Posted');
});

test('keyboard: open a post from the calendar, focus stays in the dialog, Escape closes', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=0#/calendar`);
  const chip = page.locator('.fc-daygrid-event[data-post-id="p_tomorrow"]');
  await chip.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Post' });
  await expect(dialog).toBeVisible();
  for (let i = 0; i < 25; i++) {
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => !!document.activeElement?.closest('[role="dialog"]')), `tab ${i} stays inside`).toBe(true);
  }
  await shot(page, '09-dialog-keyboard-focus');
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(chip).toBeFocused();
});

test('status bar: pause and resume; a clear warning when no dispatcher runs', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=300#/calendar`);
  await expect(page.getByTestId('runner-state')).toHaveText(/Publishing on/);
  await expect(page.getByTestId('next-due')).toContainText('bluesky:alice.bsky.social');
  await page.getByRole('button', { name: 'Pause publishing' }).click();
  await expect(page.getByTestId('runner-state')).toHaveText(/Publishing paused/);
  await page.getByRole('button', { name: 'Resume publishing' }).click();
  await expect(page.getByTestId('runner-state')).toHaveText(/Publishing on/);

  await page.goto(`/?seed=demo&zone=${ZONE}&runner=off#/calendar`);
  await expect(page.getByTestId('no-dispatcher')).toContainText('No dispatcher is running');
  await shot(page, '10-no-dispatcher');
});

test('accounts: connect Bluesky with an app password; every other network connects in the browser', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=0#/accounts`);
  await expect(page.getByRole('button', { name: 'Coming soon' })).toHaveCount(0);
  for (const name of ['X', 'LinkedIn', 'Pinterest', 'Facebook', 'Instagram', 'Threads', 'TikTok', 'YouTube']) {
    await expect(page.getByRole('button', { name: `Connect ${name} account` })).toBeEnabled();
  }
  await expect(page.locator('[data-account-id="a_studio"]')).toContainText('Needs reconnect');
  await shot(page, '11-accounts');
  await page.getByRole('button', { name: 'Connect Bluesky account' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Handle').fill('new.bsky.social');
  await dialog.getByLabel('App password').fill('my-main-password');
  await dialog.getByRole('button', { name: 'Connect' }).click();
  await expect(dialog.getByRole('alert')).toContainText('xxxx-xxxx-xxxx-xxxx');
  await shot(page, '12-connect-error');
  await dialog.getByLabel('App password').fill('abcd-efgh-ijkm-npqr');
  await dialog.getByRole('button', { name: 'Connect' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.locator('[data-network="bluesky"] .account', { hasText: 'bluesky:new.bsky.social' })).toBeVisible();
});

test('accounts: connect X in the browser — the pasted address finishes it', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=0#/settings`);
  const clientId = page.getByLabel('X client id');
  await clientId.fill('my-x-app');
  const cred = page.locator('form.cred', { has: clientId });
  await cred.getByRole('button', { name: 'Save' }).click();
  await expect(cred.getByRole('status')).toHaveText('Saved.');

  await page.getByRole('link', { name: /^Accounts/ }).click();
  await page.getByRole('button', { name: 'Connect X account' }).click();
  const dialog = page.getByRole('dialog', { name: 'Connect your X account' });
  await expect(dialog).toContainText('Outpost opened X in your browser.');
  const address = dialog.getByTestId('authorize-url');
  await expect(address).toHaveValue(/^https:\/\/x\.com\/i\/oauth2\/authorize\?/);
  const url = new URL(await address.inputValue());
  expect(url.searchParams.get('client_id')).toBe('my-x-app');
  expect(url.searchParams.get('redirect_uri')).toBe('http://127.0.0.1:8723/callback');
  await expect(dialog.getByTestId('connect-waiting')).toHaveText('Waiting for X…');
  await expect(dialog.getByRole('button', { name: 'Copy' })).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Open again' })).toBeVisible();
  await shot(page, '15-connect');

  // An address from another attempt is refused inline; the attempt keeps waiting.
  const pasted = dialog.getByLabel('Paste the address you were sent to');
  await pasted.fill('http://127.0.0.1:8723/callback?code=abc&state=another-attempt');
  await dialog.getByRole('button', { name: 'Use this address' }).click();
  await expect(dialog.getByRole('alert')).toHaveText(
    'X: this sign-in address belongs to another connection attempt (its state does not match) — use the address from the attempt you just started, or start again',
  );
  await expect(dialog.getByTestId('connect-waiting')).toBeVisible();

  await pasted.fill(`http://127.0.0.1:8723/callback?code=demo-code&state=${url.searchParams.get('state')}`);
  await dialog.getByRole('button', { name: 'Use this address' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByText('Connected x:me')).toBeVisible();
  const row = page.locator('[data-network="x"] .account', { hasText: 'x:me' });
  await expect(row).toContainText('Active');
  expect(await page.evaluate(() => (window as unknown as { __outpost: { pendingConnects(): unknown[] } }).__outpost.pendingConnects())).toEqual([]);
});

test('accounts: connecting LinkedIn without app credentials shows what to set up, with a link to Settings', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=0#/accounts`);
  await page.getByRole('button', { name: 'Connect LinkedIn account' }).click();
  const dialog = page.getByRole('dialog', { name: 'Connect your LinkedIn account' });
  const alert = dialog.getByRole('alert');
  await expect(alert).toContainText(
    'LinkedIn: no client id — create your LinkedIn developer app (docs/networks/linkedin.md) and enter its client id in Settings › App credentials (or `outpost apps set linkedin --client-id …`)',
  );
  await expect(dialog.getByTestId('authorize-url')).toHaveCount(0);
  await alert.getByRole('link', { name: 'Open Settings › App credentials' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
  const clientId = page.getByLabel('LinkedIn client id');
  await expect(clientId).toBeFocused();

  // A client id alone is not enough for LinkedIn: it needs the secret too.
  await clientId.fill('li-app');
  await page.locator('form.cred', { has: clientId }).getByRole('button', { name: 'Save' }).click();
  await page.getByRole('link', { name: /^Accounts/ }).click();
  await page.getByRole('button', { name: 'Connect LinkedIn account' }).click();
  await expect(dialog.getByRole('alert')).toContainText(
    "LinkedIn: no client secret — enter your LinkedIn app's client secret in Settings › App credentials",
  );
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
});

test('compose: a pin needs a board — the error blocks Schedule until one is chosen', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=0#/compose`);
  await page.getByRole('textbox', { name: 'Text', exact: true }).fill('A walnut side table, from rough boards to finish');
  await page.getByRole('checkbox', { name: /pinterest:alicemakes/ }).check();
  await page.getByRole('button', { name: 'Add media…' }).click();
  const checks = page.getByTestId('checks');
  await expect(checks).toContainText('Pinterest: Pinterest board not selected — choose a board for pinterest:alicemakes');
  const submit = page.getByTestId('submit');
  await expect(submit).toBeDisabled();

  const pin = page.getByRole('group', { name: 'pinterest:alicemakes' });
  const board = pin.getByLabel('Board');
  await expect(board).toHaveAttribute('aria-invalid', 'true');
  await board.selectOption({ label: 'Workshop projects' });
  await expect(checks).not.toContainText('board not selected');
  await pin.getByLabel('Destination link').fill('example.com/table');
  await expect(checks).toContainText(
    'Pinterest: the pin link "example.com/table" must be an http(s) address of at most 2,048 characters',
  );
  await expect(submit).toBeDisabled();
  await pin.getByLabel('Destination link').fill('https://example.com/table');
  await pin.getByLabel('Title').fill('Walnut side table');
  await page.getByTestId('schedule-at').fill(`${dateIn(ZONE, 2)}T12:00`);
  await expect(checks).toContainText('Ready for Bluesky, Pinterest');
  await expect(submit).toBeEnabled();
  await page.getByRole('tab', { name: 'Pinterest' }).click();
  await pin.scrollIntoViewIfNeeded();
  await shot(page, '16-pinterest-options');

  await submit.click();
  await expect(page.getByText(/Scheduled for/)).toBeVisible();
  const options = await page.evaluate(() => {
    const b = (window as unknown as { __outpost: { posts: Map<string, { content: { parts: { text: string }[]; options: unknown } }> } }).__outpost;
    return [...b.posts.values()].find((p) => p.content.parts[0]?.text.startsWith('A walnut side table'))?.content.options;
  });
  expect(options).toEqual({
    'pinterest:alicemakes': { board_id: '549755885175', title: 'Walnut side table', link: 'https://example.com/table' },
  });
});

test('accounts: connect TikTok through a relay page and the pasted address', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=0#/settings`);
  const clientId = page.getByLabel('TikTok client id');
  await clientId.fill('tiktok-client-key');
  await page.getByLabel('TikTok client secret').fill('tiktok-secret');
  const cred = page.locator('form.cred', { has: clientId });
  await cred.getByRole('button', { name: 'Save' }).click();
  await expect(cred.getByRole('status')).toHaveText('Saved.');

  await page.getByRole('link', { name: /^Accounts/ }).click();
  await page.getByRole('button', { name: 'Connect TikTok account' }).click();
  const dialog = page.getByRole('dialog', { name: 'Connect your TikTok account' });
  // TikTok sends the browser back to an https address: the relay page is asked for first.
  await expect(dialog.getByTestId('https-line')).toContainText('TikTok sends you back to an https address');
  const relay = 'https://alice.github.io/oauth-relay.html';
  await dialog.getByLabel(/Relay page address/).fill(relay);
  await shot(page, '17-connect-tiktok-relay');
  await dialog.getByRole('button', { name: 'Open TikTok' }).click();
  await expect(dialog.getByTestId('connect-waiting')).toHaveText('Waiting for TikTok…');
  await expect(dialog.getByTestId('https-line')).toHaveText('TikTok sends you back to an https address: paste the address you end up on here.');
  const url = new URL(await dialog.getByTestId('authorize-url').inputValue());
  expect(url.origin + url.pathname).toBe('https://www.tiktok.com/v2/auth/authorize/');
  expect(url.searchParams.get('client_key')).toBe('tiktok-client-key');
  expect(url.searchParams.get('redirect_uri')).toBe(relay);
  const state = url.searchParams.get('state') ?? '';
  const pasted = dialog.getByLabel('Paste the address you were sent to');
  await pasted.fill(`${relay}?code=demo-code&scopes=user.info.basic%2Cvideo.publish&state=${state}`);
  await shot(page, '17-connect-tiktok');
  await dialog.getByRole('button', { name: 'Use this address' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByText('Connected tiktok:me')).toBeVisible();
  await expect(page.locator('[data-network="tiktok"] .account', { hasText: 'tiktok:me' })).toContainText('Active');
});

test('compose: a TikTok video needs who can watch and fits the account; YouTube gets a title and hands off', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=300#/compose`);
  const pick = (path: string, secs: number) =>
    page.evaluate(
      ([p, d]) =>
        (window as unknown as { __outpost: { queuePick(m: object): void } }).__outpost.queuePick({
          mime: 'video/mp4',
          path: p,
          bytes: 84_000_000,
          width: 1080,
          height: 1920,
          duration_secs: d,
        }),
      [path, secs] as const,
    );
  await page.getByRole('textbox', { name: 'Text', exact: true }).fill('Walnut side table, start to finish\nRough boards to oil finish. #woodworking');
  await page.getByRole('checkbox', { name: /bluesky:alice\.bsky\.social/ }).uncheck();
  await page.getByRole('checkbox', { name: /tiktok:alice\.makes/ }).check();
  await pick('/Videos/walnut-table-full.mp4', 750);
  await page.getByRole('button', { name: 'Add media…' }).click();

  const checks = page.getByTestId('checks');
  const tiktok = page.getByRole('group', { name: 'Options for tiktok:alice.makes' });
  await expect(tiktok.getByTestId('tiktok-max')).toHaveText('Videos up to 10 min for this account');
  await expect(checks).toContainText('TikTok: choose who can watch this video for tiktok:alice.makes');
  await expect(checks).toContainText(
    'TikTok: walnut-table-full.mp4 is 12 min 30 s long; this account can post videos up to 10 min — trim it',
  );
  const submit = page.getByTestId('submit');
  await expect(submit).toBeDisabled();
  const who = tiktok.getByLabel('Who can watch this video');
  await expect(who).toHaveAttribute('aria-invalid', 'true');
  await who.selectOption({ label: 'Only me' });
  await expect(checks).not.toContainText('choose who can watch');
  await expect(checks).toContainText('this account can post videos up to 10 min');
  await expect(submit).toBeDisabled();
  await page.getByRole('button', { name: 'Remove walnut-table-full.mp4' }).click();
  await pick('/Videos/walnut-table.mp4', 312);
  await page.getByRole('button', { name: 'Add media…' }).click();
  await expect(checks).not.toContainText('trim it');

  await page.getByRole('checkbox', { name: /youtube:alicemakes/ }).check();
  const youtube = page.getByRole('group', { name: 'Options for youtube:alicemakes' });
  const title = youtube.getByLabel('Title');
  await expect(title).toHaveAttribute('placeholder', 'Walnut side table, start to finish');
  await title.fill('Walnut side table — start to finish');
  await youtube.getByLabel(/Tags/).fill('woodworking, walnut, #sidetable');
  await expect(youtube.getByLabel("No, it's not made for kids")).toBeChecked();
  const handOff = youtube.getByLabel('Let YouTube publish it at the scheduled time');
  await expect(handOff).toBeChecked();
  await page.getByTestId('schedule-at').fill(`${dateIn(ZONE, 3)}T18:00`);
  await expect(checks).toContainText('Ready for TikTok, YouTube');
  await expect(submit).toBeEnabled();
  await page.getByRole('tab', { name: 'YouTube' }).click();
  // The video and both networks' options in view.
  await page.getByTestId('media-zone-0').evaluate((el) => {
    el.scrollIntoView({ block: 'start' });
    window.scrollBy(0, -8);
  });
  await shot(page, '18-video-options');

  await submit.click();
  await expect(page.getByText(/Scheduled for/)).toBeVisible();
  const stored = await page.evaluate(() => {
    const b = (window as unknown as { __outpost: { posts: Map<string, { id: string; content: { parts: { text: string }[]; options: unknown } }> } }).__outpost;
    const p = [...b.posts.values()].find((x) => x.content.parts[0]?.text.startsWith('Walnut side table, start'));
    return { id: p?.id, options: p?.content.options };
  });
  expect(stored.options).toEqual({
    'tiktok:alice.makes': { privacy_level: 'SELF_ONLY' },
    'youtube:alicemakes': { made_for_kids: false, title: 'Walnut side table — start to finish', tags: ['woodworking', 'walnut', 'sidetable'] },
  });
  // YouTube takes the video now and holds it until its time; TikTok waits here.
  const card = page.getByTestId('queue-list').locator(`article[data-post-id="${stored.id}"]`);
  await expect(card.locator('[data-network="youtube"] .badge')).toHaveText('Scheduled on YouTube');
  await expect(card.locator('[data-network="tiktok"] .badge')).toHaveText('Scheduled');
  await expect(card.locator('header .status')).toHaveText('Scheduled');
  await expect(card.getByTestId('target-held')).toContainText('YouTube has it and publishes it at this time, even if this computer is off.');
  await card.scrollIntoViewIfNeeded();
  await shot(page, '19-video-card-held');
});

test('settings: time zone moves the calendar; secrets are write-only', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=0#/settings`);
  await page.getByLabel('Time zone').fill('America/New_York');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByText('Settings saved.')).toBeVisible();
  const secret = page.getByLabel('X client secret');
  await page.getByLabel('X client id').fill('my-client');
  await secret.fill('top-secret');
  await page.locator('form.cred', { has: secret }).getByRole('button', { name: 'Save' }).click();
  await expect(secret).toHaveValue('');
  await expect(secret).toHaveAttribute('placeholder', 'Stored — type to replace');
  await shot(page, '13-settings');
  await page.getByRole('link', { name: 'Calendar' }).click();
  await expect(page.getByText('Times in America/New_York')).toBeVisible();
  // p_tomorrow is 09:30 in Berlin: 03:30 in New York.
  await expect(page.locator('.fc-event[data-post-id="p_tomorrow"] .chip-time')).toHaveText('03:30');
});

test('settings: the staging bucket is tested before it is saved; wrong keys get a clear error', async ({ page }) => {
  await page.goto(`/?seed=demo&zone=${ZONE}&tick=0#/settings`);
  const form = page.locator('form', { has: page.getByRole('heading', { name: 'Media staging' }) });
  await form.getByLabel('Endpoint').fill('https://s3.eu-central-1.amazonaws.com');
  await form.getByLabel('Bucket', { exact: true }).fill('my-media');
  await form.getByLabel('Access key ID').fill('AKIAEXAMPLE');
  await form.getByLabel('Secret access key').fill('wrong-secret');
  await form.getByRole('button', { name: 'Test connection' }).click();
  await expect(form.getByRole('alert')).toContainText('the bucket refused the keys');
  await form.getByLabel('Secret access key').fill('right-secret');
  await form.getByRole('button', { name: 'Test connection' }).click();
  await expect(form.getByRole('status')).toHaveText('The bucket works: a test file was written, read back and deleted.');
  await form.getByRole('button', { name: 'Save bucket' }).click();
  await expect(form.getByRole('status')).toHaveText('Tested and saved.');
  await expect(form.getByLabel('Secret access key')).toHaveValue('');
  await expect(form.getByLabel('Secret access key')).toHaveAttribute('placeholder', 'Stored — type to replace');
  await shot(page, '14-staging');
});

test.describe('dark theme', () => {
  test.use({ colorScheme: 'dark' });
  test('follows the OS', async ({ page }) => {
    await page.goto(`/?seed=demo&zone=${ZONE}&tick=0#/calendar`);
    await expect(page.locator('.fc-event').first()).toBeVisible();
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--bg').trim());
    expect(bg).toBe('#14161c');
    await shot(page, '14-calendar-dark');
    await page.goto(`/?seed=demo&zone=${ZONE}&tick=0#/compose`);
    await page.getByRole('textbox', { name: 'Text', exact: true }).fill('a'.repeat(312));
    await shot(page, '15-compose-dark-over-limit');
  });
});
