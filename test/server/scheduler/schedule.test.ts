import t from 'tap';
import { nextFire, parseGoDurationMs, parseSchedule, validateTimeZone } from '../../../server/scheduler/index.js';
import { nameSum } from '../../../server/scheduler/schedule-hash.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function fires(spec: string, fromIso: string, n: number, zone = '', anchor = 0, name = 'job'): (string | null)[] {
  const s = parseSchedule(spec, name);
  const out: (string | null)[] = [];
  let after = at(fromIso);
  for (let i = 0; i < n; i++) {
    const f = nextFire(s, after, zone, anchor);
    out.push(iso(f));
    if (f === null) break;
    after = f;
  }
  return out;
}

t.test('six fields with seconds, five without, descriptors', async (t) => {
  t.same(fires('*/20 * * * * *', '2026-01-01T00:00:00Z', 3), ['2026-01-01T00:00:20.000Z', '2026-01-01T00:00:40.000Z', '2026-01-01T00:01:00.000Z']);
  t.same(fires('*/15 * * * *', '2026-01-01T00:00:00Z', 2), ['2026-01-01T00:15:00.000Z', '2026-01-01T00:30:00.000Z']);
  t.same(fires('@hourly', '2026-01-01T00:30:00Z', 1), ['2026-01-01T01:00:00.000Z']);
  t.same(fires('@daily', '2026-01-01T00:30:00Z', 1), ['2026-01-02T00:00:00.000Z']);
  t.same(fires('@weekly', '2026-01-01T00:30:00Z', 1), ['2026-01-04T00:00:00.000Z'], 'Sunday');
  t.same(fires('@monthly', '2026-01-15T00:00:00Z', 1), ['2026-02-01T00:00:00.000Z']);
  t.same(fires('@yearly', '2026-01-15T00:00:00Z', 1), ['2027-01-01T00:00:00.000Z']);
  t.same(fires('@minutely', '2026-01-01T00:00:30Z', 1), ['2026-01-01T00:01:00.000Z']);
  t.same(fires('0 0 12 ? JAN MON', '2026-01-01T00:00:00Z', 1), ['2026-01-05T12:00:00.000Z'], 'names and ?');
  t.same(fires('*/20 * * * * *', '2026-01-01T00:00:20Z', 1), ['2026-01-01T00:00:40.000Z'], 'strictly after');
  t.same(fires('*/20 * * * * *', '2026-01-01T00:00:19.999Z', 1), ['2026-01-01T00:00:20.000Z']);
});

t.test('time zones and prefixes', async (t) => {
  t.same(fires('0 0 9 * * *', '2026-07-01T00:00:00Z', 1, 'Europe/Berlin'), ['2026-07-01T07:00:00.000Z']);
  t.same(fires('0 0 9 * * *', '2026-07-01T00:00:00Z', 1, ''), ['2026-07-01T09:00:00.000Z'], 'empty zone is UTC');
  t.same(fires('CRON_TZ=America/New_York 0 0 9 * * *', '2026-07-01T00:00:00Z', 1, 'Europe/Berlin'), ['2026-07-01T13:00:00.000Z']);
  t.same(fires('TZ=Asia/Tokyo 0 0 9 * * *', '2026-07-01T00:00:00Z', 1), ['2026-07-02T00:00:00.000Z']);
  t.doesNotThrow(() => validateTimeZone('America/New_York'));
  t.throws(() => validateTimeZone('Mars/Olympus'), { code: 'CT_SCHEDULE_INVALID', message: /unknown time zone/ });
  t.throws(() => parseSchedule('CRON_TZ=Nowhere/Land 0 0 * * * *', 'x'), { message: /unknown time zone/ });
});

t.test('daylight saving: fixed hours run once; intervals follow real time', async (t) => {
  // Europe/Berlin: 2026-03-29 02:00 -> 03:00 (01:00Z); 2026-10-25 03:00 -> 02:00 (01:00Z).
  t.same(fires('0 30 2 * * *', '2026-03-28T12:00:00Z', 2, 'Europe/Berlin'), ['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z'],
    'skipped 02:30 runs once at the jump (03:00 local)');
  t.same(fires('0 15,45 2 * * *', '2026-03-28T12:00:00Z', 2, 'Europe/Berlin'), ['2026-03-29T01:00:00.000Z', '2026-03-30T00:15:00.000Z'],
    'two skipped times run once');
  t.same(fires('0 30 3 * * *', '2026-03-28T12:00:00Z', 1, 'Europe/Berlin'), ['2026-03-29T01:30:00.000Z'], 'a time after the gap is untouched');
  t.same(fires('0 30 2 * * *', '2026-10-24T12:00:00Z', 2, 'Europe/Berlin'), ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z'],
    'a repeated 02:30 runs once, at its first occurrence');
  t.same(fires('0 0 * * * *', '2026-10-24T23:30:00Z', 4, 'Europe/Berlin'),
    ['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z'], 'hourly fires on both passes');
  t.same(fires('0 */30 * * * *', '2026-03-29T00:00:00Z', 3, 'Europe/Berlin'), ['2026-03-29T00:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T01:30:00.000Z'],
    'an interval skips wall times that do not exist');
  // America/New_York: 2026-03-08 02:00 -> 03:00 (07:00Z); 2026-11-01 02:00 -> 01:00 (06:00Z).
  t.same(fires('0 30 2 * * *', '2026-03-07T12:00:00Z', 2, 'America/New_York'), ['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z']);
  t.same(fires('0 30 1 * * *', '2026-10-31T12:00:00Z', 2, 'America/New_York'), ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
  t.same(fires('0 30 * * * *', '2026-11-01T04:45:00Z', 3, 'America/New_York'), ['2026-11-01T05:30:00.000Z', '2026-11-01T06:30:00.000Z', '2026-11-01T07:30:00.000Z'],
    '01:30 runs on both passes for an hourly job');
});

t.test('@every is anchored and keeps its phase across restarts', async (t) => {
  const anchor = at('2026-01-01T00:00:00.250Z');
  const s = parseSchedule('@every 1m30s', 'x');
  t.equal(iso(nextFire(s, anchor, '', anchor)), '2026-01-01T00:01:30.250Z');
  t.equal(iso(nextFire(s, anchor - 5000, '', anchor)), '2026-01-01T00:01:30.250Z', 'never at the anchor itself');
  // A "restart" an hour later asks from its own now: same phase.
  t.equal(iso(nextFire(s, at('2026-01-01T01:00:00Z'), '', anchor)), '2026-01-01T01:00:00.250Z');
  t.equal(parseSchedule('@every 1500ms', 'x').kind === 'every' && (parseSchedule('@every 1500ms', 'x') as { everyMs: number }).everyMs, 1000, 'sub-second dropped');
  t.throws(() => parseSchedule('@every 500ms', 'x'), /shortest interval is 1s/);
  t.throws(() => parseSchedule('@every soon', 'x'), /not a duration/);
  t.throws(() => parseSchedule('@every', 'x'), /needs a duration/);
});

t.test('@at, @manually', async (t) => {
  const s = parseSchedule('@at 2026-05-01T10:00:00+02:00', 'x');
  t.equal(iso(nextFire(s, at('2026-01-01T00:00:00Z'), '', 0)), '2026-05-01T08:00:00.000Z');
  t.equal(nextFire(s, at('2026-05-01T08:00:00Z'), '', 0), null, 'once only');
  t.equal(nextFire(parseSchedule('@manually', 'x'), 0, '', 0), null);
  t.throws(() => parseSchedule('@at tomorrow', 'x'), /RFC3339/);
});

t.test('the ~ hash', async (t) => {
  const sum = nameSum('backup');
  t.equal(sum, 98 + 97 + 99 + 107 + 117 + 112);
  const expectSec = sum % 60;
  const expectMin = sum % 60;
  const expectHour = sum % 24;
  const s = parseSchedule('~ ~ ~ * * *', 'backup');
  t.equal(s.kind === 'cron' && s.fields, `${expectSec} ${expectMin} ${expectHour} * * *`);
  const step = parseSchedule('0 ~/15 * * * *', 'backup');
  t.equal(step.kind === 'cron' && step.fields, `0 ${expectMin}/15 * * * *`);
  t.equal(parseSchedule('@hourly', 'backup').kind, 'cron', '~ has no effect on descriptors');
});

t.test('invalid schedules say what is wrong', async (t) => {
  for (const bad of ['61 * * * * *', '* * * *', '* * * * * * *', '@fortnightly', '', '0 0 25 * * *', 'every day']) {
    t.throws(() => parseSchedule(bad, 'x'), { code: 'CT_SCHEDULE_INVALID' }, JSON.stringify(bad));
  }
});

t.test('go durations', async (t) => {
  t.equal(parseGoDurationMs('1h30m'), 5_400_000);
  t.equal(parseGoDurationMs('1.5s'), 1500);
  t.equal(parseGoDurationMs('250ms'), 250);
  t.equal(parseGoDurationMs('0'), 0);
  t.throws(() => parseGoDurationMs('10'), /not a duration/);
  t.throws(() => parseGoDurationMs('-5s'), /negative/);
});
