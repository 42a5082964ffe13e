// Schedules in words: cron forms (with seconds, five fields, descriptors,
// CRON_TZ, the ~ hash resolved for the job), @every, @at, @manually.

import t from 'tap';
import { describeSchedule, durationInWords } from '../../../server/scheduler/describe-schedule.js';
import { parseSchedule } from '../../../server/scheduler/schedule.js';

const words = (spec: string, zone = '', job = 'j') => describeSchedule(parseSchedule(spec, job), zone);

t.test('cron in 24-hour words with the zone it runs in', async (t) => {
  t.equal(words('0 30 9 * * 1-5', 'Europe/Berlin'), 'At 09:30, Monday through Friday (Europe/Berlin time)');
  t.equal(words('*/5 * * * * *'), 'Every 5 seconds (UTC time)');
  t.equal(words('0 15 * * *'), 'At 15:00 (UTC time)', 'five fields (minute first): seconds 0');
  t.equal(words('@daily', 'Asia/Tokyo'), 'At 00:00 (Asia/Tokyo time)');
  t.equal(words('CRON_TZ=America/New_York 0 0 12 * * *', 'Europe/Berlin'), 'At 12:00 (America/New_York time)', 'the prefix zone wins');
  t.match(words('0 ~ * * * *', '', 'some-job'), /^At \d+ minutes past the hour \(UTC time\)$|^Every hour \(UTC time\)$/, 'the hash is resolved for the job');
});

t.test('@every, @at and @manually', async (t) => {
  t.equal(words('@every 1h30m'), 'Every 1 hour 30 minutes, counted from when the schedule was set');
  t.equal(words('@at 2026-06-01T10:00:00Z'), 'Once, at 2026-06-01T10:00:00Z');
  t.match(words('@manually'), /^Only when run by hand/);
  t.equal(durationInWords(1500), '1 second 500 milliseconds');
  t.equal(durationInWords(86_400_000 * 2), '2 days');
});
