// How long the adapter takes to turn 2,000 posts into the month grid's events (the part of the
// calendar's first render that is ours; the browser figure is in e2e/perf.spec.ts).
import { expect, it } from 'vitest';
import { MemoryBackend } from '../backend/memoryBackend';
import { seedBulk } from '../backend/seed';
import { eventsForRange } from './adapter';

it('maps 2,000 posts to a month of events quickly', async () => {
  const b = new MemoryBackend({ tickMs: 0, zone: 'Europe/Berlin', now: () => Date.parse('2026-11-15T12:00:00Z') });
  seedBulk(b, 2000);
  const posts = await b.listPosts();
  const range = { start: new Date('2026-10-26T00:00:00Z'), end: new Date('2026-12-07T00:00:00Z') };
  const t0 = performance.now();
  const events = eventsForRange(posts, 'Europe/Berlin', range, 3);
  const cold = performance.now() - t0;
  const t1 = performance.now();
  eventsForRange(posts, 'Europe/Berlin', range, 3);
  const warm = performance.now() - t1;
  console.log(`adapter: 2000 posts → ${events.length} month events in ${cold.toFixed(1)} ms (cached: ${warm.toFixed(1)} ms)`);
  expect(events.length).toBe(30 * 3);
  expect(events.filter((e) => e.extendedProps.more !== undefined)).toHaveLength(30);
  expect(cold).toBeLessThan(500);
});
