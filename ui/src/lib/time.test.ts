import { describe, expect, it } from 'vitest';
import { localToUtc, resolveLocal, toLocalInput } from './time';

describe('wall-clock time in a zone', () => {
  it('converts Berlin winter and summer times', () => {
    expect(localToUtc('2026-12-01T09:30', 'Europe/Berlin')).toEqual({ ok: '2026-12-01T08:30:00.000Z' });
    expect(localToUtc('2026-07-01T09:30', 'Europe/Berlin')).toEqual({ ok: '2026-07-01T07:30:00.000Z' });
    expect(toLocalInput('2026-12-01T08:30:00Z', 'Europe/Berlin')).toBe('2026-12-01T09:30');
  });

  it('refuses a time in the spring gap and names both choices in the autumn overlap', () => {
    expect(resolveLocal('2026-03-29T02:30', 'Europe/Berlin').kind).toBe('gap');
    const gap = localToUtc('2026-03-29T02:30', 'Europe/Berlin');
    expect('error' in gap && gap.error).toContain('does not exist in Europe/Berlin');
    const amb = localToUtc('2026-10-25T02:30', 'Europe/Berlin');
    expect('error' in amb && amb.error).toBe(
      'time: 2026-10-25 02:30 happens twice in Europe/Berlin (the clocks go back) — add the offset to say which: 2026-10-25T02:30:00+02:00 or 2026-10-25T02:30:00+01:00',
    );
  });

  it('refuses unknown zones', () => {
    const r = localToUtc('2026-12-01T09:30', 'Mars/Olympus');
    expect('error' in r && r.error).toContain("'Mars/Olympus' is not an IANA time zone name");
  });
});
