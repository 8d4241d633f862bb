//! Time in the user's IANA zone, with nothing but `Intl`: wall-clock ⇄ UTC, and display.
//! DST gaps and overlaps are reported, never guessed (the engine refuses them the same way).

export interface Wall {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const fmtCache = new Map<string, Intl.DateTimeFormat>();

function partsFormatter(zone: string): Intl.DateTimeFormat {
  let f = fmtCache.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    fmtCache.set(zone, f);
  }
  return f;
}

export function isValidZone(zone: string): boolean {
  try {
    partsFormatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock time in `zone` at the instant `ms`. */
export function wallAt(ms: number, zone: string): Wall {
  const w: Wall = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const p of partsFormatter(zone).formatToParts(new Date(ms))) {
    if (p.type in w) w[p.type as keyof Wall] = Number(p.value);
  }
  return w;
}

const wallAsUtc = (w: Wall): number =>
  Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);

/** `zone`'s offset from UTC at the instant `ms`, in milliseconds. */
export function offsetAt(ms: number, zone: string): number {
  const secMs = Math.floor(ms / 1000) * 1000;
  return wallAsUtc(wallAt(secMs, zone)) - secMs;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export function formatWall(w: Wall): string {
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
}

/** `YYYY-MM-DDTHH:MM` for an instant, in `zone` (what `<input type="datetime-local">` wants). */
export function toLocalInput(iso: string | number, zone: string): string {
  const ms = typeof iso === 'number' ? iso : Date.parse(iso);
  return formatWall(wallAt(ms, zone));
}

export function parseLocal(local: string): Wall | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m;
  return {
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: Number(h),
    minute: Number(mi),
    second: Number(s ?? 0),
  };
}

export type LocalResult =
  | { kind: 'single'; ms: number }
  | { kind: 'gap' }
  | { kind: 'ambiguous'; first: number; second: number }
  | { kind: 'invalid' };

/** Interprets a wall-clock time in `zone`. */
export function resolveLocal(local: string, zone: string): LocalResult {
  const w = parseLocal(local);
  if (!w || !isValidZone(zone)) return { kind: 'invalid' };
  const guess = wallAsUtc(w);
  const offsets = new Set([-86_400_000, 0, 86_400_000].map((d) => offsetAt(guess + d, zone)));
  const hits = [...offsets]
    .map((o) => guess - o)
    .filter((ms) => wallAsUtc(wallAt(ms, zone)) === guess)
    .sort((a, b) => a - b);
  const unique = [...new Set(hits)];
  if (unique.length === 0) return { kind: 'gap' };
  if (unique.length === 1) return { kind: 'single', ms: unique[0] as number };
  return { kind: 'ambiguous', first: unique[0] as number, second: unique[1] as number };
}

/** RFC 3339 with the zone's offset, as chrono's `to_rfc3339` writes it. */
export function rfc3339InZone(ms: number, zone: string): string {
  const w = wallAt(ms, zone);
  const off = Math.round(offsetAt(ms, zone) / 60_000);
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${formatWall(w)}:${pad(w.second)}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

/** Converts wall-clock input to UTC, with the engine's messages for what cannot be converted. */
export function localToUtc(local: string, zone: string): { ok: string } | { error: string } {
  const r = resolveLocal(local, zone);
  const shown = local.replace('T', ' ');
  switch (r.kind) {
    case 'single':
      return { ok: new Date(r.ms).toISOString() };
    case 'gap':
      return {
        error: `time: ${shown} does not exist in ${zone} (the clocks skip that hour for daylight saving time) — choose a time outside the gap`,
      };
    case 'ambiguous':
      return {
        error: `time: ${shown} happens twice in ${zone} (the clocks go back) — add the offset to say which: ${rfc3339InZone(r.first, zone)} or ${rfc3339InZone(r.second, zone)}`,
      };
    case 'invalid':
      return isValidZone(zone)
        ? {
            error: `time: '${local}' is not a time Outpost understands — use RFC 3339 (2026-12-01T09:30:00+01:00) or local time (2026-12-01 09:30)`,
          }
        : { error: `time zone: '${zone}' is not an IANA time zone name (for example Europe/Berlin or America/New_York)` };
  }
}

const abbrevCache = new Map<string, Intl.DateTimeFormat>();

/** The zone's short name at an instant ("CET", "GMT+1"). */
export function zoneAbbrev(zone: string, ms: number = Date.now()): string {
  try {
    let f = abbrevCache.get(zone);
    if (!f) {
      f = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'short' });
      abbrevCache.set(zone, f);
    }
    return f.formatToParts(new Date(ms)).find((x) => x.type === 'timeZoneName')?.value ?? zone;
  } catch {
    return zone;
  }
}

const displayCache = new Map<string, Intl.DateTimeFormat>();

/** "Tue 1 Dec 2026, 09:30" in `zone`. */
export function formatInZone(
  iso: string | null | undefined,
  zone: string,
  style: 'full' | 'time' | 'date' = 'full',
): string {
  if (!iso) return '—';
  const key = `${zone}|${style}`;
  let f = displayCache.get(key);
  if (!f) {
    const opts: Intl.DateTimeFormatOptions =
      style === 'time'
        ? { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
        : style === 'date'
          ? { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }
          : {
              weekday: 'short',
              day: 'numeric',
              month: 'short',
              year: 'numeric',
              hour: '2-digit',
              minute: '2-digit',
              hourCycle: 'h23',
            };
    f = new Intl.DateTimeFormat('en-GB', { ...opts, timeZone: zone });
    displayCache.set(key, f);
  }
  return f.format(new Date(iso));
}

/** "in 5 min", "3 h ago" relative to `now`. */
export function relative(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '—';
  const d = Date.parse(iso) - now;
  const a = Math.abs(d);
  const unit =
    a < 60_000
      ? `${Math.round(a / 1000)} s`
      : a < 3_600_000
        ? `${Math.round(a / 60_000)} min`
        : a < 86_400_000
          ? `${Math.round(a / 3_600_000)} h`
          : `${Math.round(a / 86_400_000)} d`;
  return d >= 0 ? `in ${unit}` : `${unit} ago`;
}

export function systemZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}
