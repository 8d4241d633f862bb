import type { Locator, Page } from '@playwright/test';
import { expect } from '@playwright/test';

export const ZONE = 'Europe/Berlin';

/** Saves a screenshot to ui/test-results/screens/<name>.png (to look at). */
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `test-results/screens/${name}.png` });
}

/** `YYYY-MM-DD` of now + `days` in `zone`. */
export function dateIn(zone: string, days: number): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
    new Date(Date.now() + days * 86_400_000),
  );
}

/** A calendar chip by text, paging the month forward once if it is not in view. */
export async function chipByText(page: Page, text: string): Promise<Locator> {
  const chip = page.locator('.fc-event', { hasText: text });
  if ((await chip.count()) === 0) await page.locator('.fc-next-button').click();
  await expect(chip.first()).toBeVisible();
  return chip.first();
}

/** The memory backend behind the page (dev/test builds expose it as window.__outpost). */
export async function postState(page: Page, id: string): Promise<{ status: string; scheduled_at: string | null }> {
  return page.evaluate((pid) => {
    const b = (window as unknown as { __outpost: { posts: Map<string, { status: string; scheduled_at: string | null }> } }).__outpost;
    const p = b.posts.get(pid);
    return { status: p?.status ?? 'gone', scheduled_at: p?.scheduled_at ?? null };
  }, id);
}

/** Drags with real mouse moves (FullCalendar listens to pointer events). */
export async function drag(page: Page, from: Locator, to: Locator): Promise<void> {
  const a = await from.boundingBox();
  const b = await to.boundingBox();
  if (!a || !b) throw new Error('drag: element not visible');
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(a.x + a.width / 2 + 10, a.y + a.height / 2 + 10, { steps: 5 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 15 });
  await page.waitForTimeout(100);
  await page.mouse.up();
}
