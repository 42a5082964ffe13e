import t from 'tap';
import { formatDuration, jobSpecFromJson, jobToJson, parseNullableTime } from '../../../server/api/job-json.js';
import { defaultCatchUp, type Job } from '../../../server/state/job.js';

const ctx = { parseDurationMs: (s: string) => {
  const m = /^(\d+)(s|m|h)$/.exec(s);
  if (!m) throw new Error(`bad duration ${s}`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'];
} };

t.test('a Dkron job with every field converts', async (t) => {
  const spec = jobSpecFromJson({
    id: 'j', name: 'j', displayname: 'J', timezone: 'Europe/Berlin', schedule: ' 0 30 2 * * * ', owner: 'o', owner_email: 'o@x',
    success_count: 3, error_count: 1, last_success: '2026-01-01T00:00:00Z', last_error: null, disabled: true,
    tags: { role: 'web:2' }, metadata: { team: 'a' }, retries: 2, dependent_jobs: null, parent_job: '', processors: { log: { forward: 'true' } },
    concurrency: 'forbid', executor: 'shell', executor_config: { command: 'true', timeout: 30 }, status: 'success',
    next: '0001-01-01T00:00:00Z', ephemeral: true, starts_at: '2026-02-01T10:00', expires_at: '2027-01-01T00:00:00+01:00',
    catch_up: { policy: 'all', max: 5, starting_deadline: '10m' },
  }, ctx);
  t.match(spec, {
    name: 'j', displayName: 'J', schedule: '0 30 2 * * *', disabled: true, retries: 2, concurrency: 'forbid',
    executorConfig: { command: 'true', timeout: '30' }, startsAtMs: Date.parse('2026-02-01T10:00:00Z'),
    expiresAtMs: Date.parse('2026-12-31T23:00:00Z'), catchUp: { mode: 'all', max: 5, startingDeadlineMs: 600_000 },
  });
});

t.test('defaults and errors', async (t) => {
  const spec = jobSpecFromJson({ name: 'x', schedule: '@every 1s' }, ctx);
  t.equal(spec.concurrency, 'allow');
  t.same(spec.catchUp, defaultCatchUp);
  const bad: [unknown, RegExp][] = [
    [[], /object/],
    [{ name: 'x', extra: 1 }, /unknown field "extra"/],
    [{ name: 'x', catch_up: { policy: 'sometimes' } }, /catch_up.policy/],
    [{ name: 'x', catch_up: { when: 1 } }, /catch_up.when/],
    [{ name: 'x', starts_at: 'tomorrow' }, /starts_at/],
    [{ name: 'x', tags: { a: { b: 1 } } }, /tags.a/],
    [{ name: 7 }, /name: must be a string/],
  ];
  for (const [input, message] of bad) t.throws(() => jobSpecFromJson(input, ctx), { message }, JSON.stringify(input));
  t.equal(parseNullableTime('0001-01-01T00:00:00Z', 'f'), null, "Go's zero time is unset");
});

t.test('output round-trips through input', async (t) => {
  const spec = jobSpecFromJson({ name: 'r', schedule: '@daily', executor: 'http', executor_config: { url: 'http://x', method: 'GET' } }, ctx);
  const job: Job = { ...spec, createdAtMs: 1, updatedAtMs: 2, successCount: 0, errorCount: 0, lastSuccessMs: null, lastErrorMs: null, status: '', dependentJobs: [], anchorMs: 1, lastScheduledMs: 1 };
  const again = jobSpecFromJson(JSON.parse(JSON.stringify(jobToJson(job, 86_400_000))), ctx);
  t.same(again, spec);
});

t.test('durations print the Go way', async (t) => {
  t.same([formatDuration(3_600_000), formatDuration(5_400_000), formatDuration(1500), formatDuration(0), formatDuration(90_061_000)], ['1h', '1h30m', '1.5s', '0s', '25h1m1s']);
});
