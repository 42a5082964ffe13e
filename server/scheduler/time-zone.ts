// IANA time zones through Intl: validation and UTC offsets at an instant.

import { ScheduleError } from './schedule-error.js';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** "" means UTC. Throws ScheduleError for a zone this runtime does not know. */
export function validateTimeZone(zone: string): void {
  if (zone === '') return;
  try {
    formatter(zone);
  } catch {
    throw new ScheduleError(`unknown time zone "${zone}": use an IANA name such as Europe/Berlin or America/New_York`, 'timezone');
  }
}

export function zoneOrUtc(zone: string): string {
  return zone === '' ? 'UTC' : zone;
}

/** The zone's offset from UTC at `ms`, in milliseconds (Berlin in summer: +7,200,000). */
export function offsetMs(zone: string, ms: number): number {
  const parts = formatter(zoneOrUtc(zone)).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - (ms - (ms % 1000 + 1000) % 1000);
}

/** The first instant at which the offset differs from the offset at `from` (binary search; `to` must differ). */
export function transitionBetween(zone: string, from: number, to: number): number {
  const before = offsetMs(zone, from);
  let lo = from;
  let hi = to;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetMs(zone, mid) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}
