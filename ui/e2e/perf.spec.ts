import { expect, test } from '@playwright/test';

// Time to first paint of the month view holding 2,000 posts (memory backend, built UI).
test('calendar month with 2,000 posts renders quickly', async ({ page }) => {
  const runs: number[] = [];
  const layout: number[] = [];
  for (let i = 0; i < 3; i++) {
    await page.goto(`/?seed=bulk&count=2000&zone=Europe/Berlin&tick=0&run=${i}#/calendar`);
    const cal = page.locator('.calendar[data-render-ms]');
    await expect(cal).toBeVisible();
    runs.push(Number(await cal.getAttribute('data-render-ms')));
    layout.push(Number(await cal.getAttribute('data-render-layout-ms')));
  }
  const events = await page.evaluate(() => (window as unknown as { __outpost: { posts: Map<string, unknown> } }).__outpost.posts.size);
  expect(events).toBe(2000);
  await page.screenshot({ path: 'test-results/screens/16-calendar-2000-posts.png' });
  const best = Math.min(...runs);
  console.log(`calendar month render, 2000 posts: ${runs.map((r) => r.toFixed(1)).join(' / ')} ms to the next paint of the page (best ${best.toFixed(1)} ms, target < 200 ms)`);
  console.log(`calendar month render + layout only, 2000 posts: ${layout.map((r) => r.toFixed(1)).join(' / ')} ms`);
  // A generous guard for slow CI machines; the figure itself is reported above.
  expect(best).toBeLessThan(1000);
});
