// Notifications from a real `clocktower light` process to receivers in this
// test: an SMTP server (smtp-server) and node:http webhook receivers.
// Dkron's global settings with their templates (pre-webhook at start,
// webhook and mail to owner_email after the finish), a job's own rules
// (failure, recovery, start), a receiver that refuses the first attempts,
// an unreachable one (the execution is neither delayed nor failed, the
// delivery ends `failed`, counted and logged), a delivery still pending
// when the process is killed and delivered after the restart, and no
// secret (the mail password, a webhook header) in the log or the API.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { call, startLight, tempDir, until, type ExecutionJson, type LightProcess } from '../support/light-process.js';
import { freePort } from '../support/free-port.js';
import { parsePrometheusText } from '../support/prometheus-text.js';
import { startSmtp, startWebhookReceiver } from '../support/notify-receivers.js';

interface NotificationJson {
  id: string;
  event: string;
  channel: string;
  source: string;
  on: string;
  target: string;
  state: string;
  attempts: number;
  last_error: string;
}
type Execution = ExecutionJson & { notifications: NotificationJson[] };

const mailPassword = 'smtp-password-7781';
const headerSecret = 'hook-header-secret-4410';
const smtp = await startSmtp('mailer', mailPassword);
const hooks = await startWebhookReceiver();
const rules = await startWebhookReceiver();
const dir = tempDir('ct-notify-');
const flag = join(dir.path, 'flag');
const args = [
  '--log-format', 'json',
  '--mail-host', '127.0.0.1', '--mail-port', String(smtp.port), '--mail-username', 'mailer', '--mail-password', mailPassword,
  '--mail-from', 'cron@example.com', '--mail-subject-prefix', '[Cron]',
  '--mail-payload', 'Job {{.JobName}} success={{.Success}}\n{{.Output}}',
  '--webhook-endpoint', `${hooks.url}/done`,
  '--webhook-payload', '{"job": "{{.JobName}}", "success": {{.Success}}, "node": "{{ .NodeName }}", "reporting": "{{.ReportingNode}}"}',
  '--webhook-headers', `X-Hook-Token:${headerSecret}`,
  '--pre-webhook-endpoint', `${hooks.url}/pre`, '--pre-webhook-payload', 'starting {{.JobName}} on {{.NodeName}}',
  '--notify-attempts', '3', '--notify-backoff', '200ms', '--notify-timeout', '2s',
];
let light: LightProcess = await startLight(dir.path, args);
t.teardown(async () => {
  await light.kill9().catch(() => {});
  await hooks.close();
  await rules.close();
  await smtp.close();
  dir.remove();
});

async function put(job: Record<string, unknown>): Promise<void> {
  const a = await call(light.url, 'POST', '/v1/jobs', { schedule: '@manually', executor: 'shell', ...job });
  if (a.status !== 201) throw new Error(`create ${String(job['name'])}: ${a.status} ${a.text}`);
}

/** Run the job now; resolves with the finished execution. */
async function run(name: string): Promise<Execution> {
  const before = await list(name);
  const a = await call(light.url, 'POST', `/v1/jobs/${name}/run`);
  if (a.status !== 202) throw new Error(`run ${name}: ${a.status} ${a.text}`);
  return until(`a new finished execution of ${name}`, async () => {
    const now = await list(name);
    const e = now.find((x) => !before.some((b) => b.id === x.id) && x.finished_at !== null);
    return e;
  });
}

async function list(name: string): Promise<Execution[]> {
  const a = await call(light.url, 'GET', `/v1/jobs/${name}/executions`);
  if (a.status !== 200) throw new Error(`executions of ${name}: ${a.status} ${a.text}`);
  return a.body as Execution[];
}

async function execution(name: string, id: string): Promise<Execution> {
  const a = await call(light.url, 'GET', `/v1/jobs/${name}/executions/${id}`);
  if (a.status !== 200) throw new Error(`execution ${id}: ${a.status} ${a.text}`);
  return a.body as Execution;
}

/** Wait until every notification of the execution is settled (delivered or failed). */
async function settled(name: string, id: string, count: number): Promise<NotificationJson[]> {
  return until(`${count} settled notifications of execution ${id}`, async () => {
    const n = (await execution(name, id)).notifications;
    return n.length === count && n.every((x) => x.state !== 'pending') ? n : undefined;
  });
}

t.test('Dkron settings: pre-webhook at the start, webhook and mail to owner_email after, templates rendered', async (t) => {
  await put({ name: 'report', owner_email: 'owner@example.com, second@example.com', executor_config: { command: 'echo hello' } });
  const e = await run('report');
  t.equal(e.state, 'succeeded');
  const ns = await settled('report', e.id, 3);
  t.same(ns.map((n) => [n.event, n.channel, n.source, n.state, n.attempts]).sort(), [
    ['finish', 'mail', 'mail', 'delivered', 1],
    ['finish', 'webhook', 'webhook', 'delivered', 1],
    ['start', 'webhook', 'pre-webhook', 'delivered', 1],
  ]);
  const pre = hooks.delivered('/pre').filter((r) => r.body.includes('report'));
  t.same(pre.map((r) => r.body), ['starting report on node1']);
  const done = hooks.delivered('/done').map((r) => JSON.parse(r.body) as Record<string, unknown>).filter((b) => b['job'] === 'report');
  t.same(done, [{ job: 'report', success: true, node: 'node1', reporting: 'node1' }]);
  t.equal(hooks.delivered('/done').find((r) => r.body.includes('"report"'))?.headers['x-hook-token'], headerSecret, 'the configured header is sent');
  t.match(hooks.delivered('/done')[0]?.headers['content-type'], /application\/json/);
  const mails = smtp.mails.filter((m) => m.subject.includes('report'));
  t.equal(mails.length, 1);
  t.same(mails[0]?.to, ['owner@example.com', 'second@example.com']);
  t.equal(mails[0]?.from, 'cron@example.com');
  t.equal(mails[0]?.user, 'mailer', 'logged in with the configured user');
  t.equal(mails[0]?.subject, '[Cron] Success report execution report');
  t.equal(mails[0]?.body.trim(), 'Job report success=true\nhello');
  const mailEntry = ns.find((n) => n.channel === 'mail');
  t.equal(mailEntry?.target, 'owner@example.com, second@example.com');
  const hookEntry = ns.find((n) => n.source === 'webhook');
  t.equal(hookEntry?.target, `${hooks.url}/…`, 'the server\'s endpoint shows its host only');
});

t.test('a job\'s rules: failure (webhook and mail), recovery and start', async (t) => {
  await put({
    name: 'flaky',
    executor_config: { shell: 'true', command: `test -f ${flag}` },
    notify: [
      { on: 'failure', webhook: `${rules.url}/failure`, payload: 'FAILED {{.JobName}} exit={{.ExitCode}}' },
      { on: 'failure', email: ['team@example.com'] },
      { on: 'recovery', webhook: `${rules.url}/recovery?token=abc`, payload: 'RECOVERED {{.JobName}}' },
      { on: 'start', webhook: `${rules.url}/start` },
    ],
  });
  const job = (await call(light.url, 'GET', '/v1/jobs/flaky')).body as { notify: unknown[] };
  t.equal(job.notify.length, 4, 'the job shows its rules');

  const first = await run('flaky');
  t.equal(first.state, 'failed');
  t.equal((await settled('flaky', first.id, 5)).filter((n) => n.source === 'rule').length, 3, 'start, and failure by webhook and mail (plus the server\'s two)');
  t.same(rules.delivered('/failure').map((r) => r.body), ['FAILED flaky exit=1']);
  const teamMail = smtp.mails.filter((m) => m.to.includes('team@example.com'));
  t.equal(teamMail.length, 1, 'the rule\'s mail');
  t.equal(teamMail[0]?.subject, '[Cron] Failed flaky execution report');
  t.match(teamMail[0]?.body, /^Executed: flaky\nReporting node: node1\nStart time: \S+\nEnd time: \S+\nSuccess: false\nNode: node1\n/, 'a rule\'s mail without payload is the report');
  t.equal(rules.delivered('/recovery?token=abc').length, 0);

  writeFileSync(flag, '');
  t.ok(existsSync(flag));
  const second = await run('flaky');
  t.equal(second.state, 'succeeded');
  const ns = await settled('flaky', second.id, 4);
  t.same(ns.filter((n) => n.source === 'rule').map((n) => n.on).sort(), ['recovery', 'start']);
  t.equal(ns.find((n) => n.on === 'recovery')?.target, `${rules.url}/recovery`, 'no query string in the target shown');
  t.same(rules.delivered('/recovery?token=abc').map((r) => r.body), ['RECOVERED flaky']);

  const third = await run('flaky');
  await settled('flaky', third.id, 3);
  t.equal(rules.delivered('/recovery?token=abc').length, 1, 'a success after a success is no recovery');
  t.equal(rules.delivered('/failure').length, 1);
  const starts = rules.delivered('/start').map((r) => JSON.parse(r.body) as Record<string, unknown>);
  t.equal(starts.length, 3, 'one start notification per execution');
  t.match(starts[0], { job_name: 'flaky', event: 'start', on: 'start', state: 'running', execution_id: first.id });
});

t.test('a receiver that refuses the first attempts gets the delivery after retries', async (t) => {
  await put({ name: 'retried', executor_config: { command: 'true' }, notify: [{ on: 'always', webhook: `${rules.url}/retried`, payload: '{{.JobName}} {{.Success}}' }] });
  rules.failNext(2);
  const e = await run('retried');
  const ns = await settled('retried', e.id, 3);
  const mine = ns.find((n) => n.source === 'rule');
  t.match(mine, { state: 'delivered', attempts: 3, last_error: '' });
  t.same(rules.requests.filter((r) => r.path === '/retried').map((r) => r.status), [500, 500, 200]);
  t.same(rules.delivered('/retried').map((r) => r.body), ['retried true']);
});

t.test('an unreachable receiver: the execution succeeds at once, the delivery ends failed, logged and counted', async (t) => {
  const closed = await freePort();
  await put({ name: 'nowhere', executor_config: { command: 'true' }, notify: [{ on: 'always', webhook: `http://127.0.0.1:${closed}/x` }] });
  const e = await run('nowhere');
  t.equal(e.state, 'succeeded');
  const ran = Date.parse(e.finished_at ?? '') - Date.parse(e.started_at ?? '');
  t.ok(ran < 2000, `the execution was not held up by the delivery (${ran} ms)`);
  const early = (await execution('nowhere', e.id)).notifications.find((n) => n.source === 'rule');
  t.ok(early, 'the delivery is recorded with the execution');
  const ns = await settled('nowhere', e.id, 3);
  const mine = ns.find((n) => n.source === 'rule');
  t.match(mine, { state: 'failed', attempts: 3, last_error: /ECONNREFUSED|connect|refused/i });
  t.equal((await execution('nowhere', e.id)).state, 'succeeded', 'the execution stays a success');
  const metrics = parsePrometheusText((await call(light.url, 'GET', '/metrics')).text);
  t.ok((metrics.value('clocktower_notifications_total', { channel: 'webhook', outcome: 'failed' }) ?? 0) >= 1, 'a failed delivery is counted');
  t.ok((metrics.value('clocktower_notification_attempts_failed_total', { channel: 'webhook' }) ?? 0) >= 3);
  t.ok((metrics.value('clocktower_notifications_total', { channel: 'mail', outcome: 'delivered' }) ?? 0) >= 1);
  const failed = await call(light.url, 'GET', '/v1/notifications?state=failed');
  t.equal(failed.status, 200);
  t.match(failed.body, [{ job_name: 'nowhere', execution_id: e.id, state: 'failed', attempts: 3, target: `http://127.0.0.1:${closed}/x` }], 'GET /v1/notifications?state=failed lists it');
  t.equal(failed.headers['x-total-count'], '1');
  const ofJob = (await call(light.url, 'GET', '/v1/notifications?job=nowhere')).body as { execution_id: string }[];
  t.ok(ofJob.length === 3 && ofJob.every((n) => n.execution_id === e.id), 'filtered by job');
  t.match((await call(light.url, 'GET', '/v1/notifications?state=lost')).body, { error: { code: 'CT_API_BAD_QUERY', message: /state must be one of pending, delivered, failed/ } });
  const failedLine = light.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l['event'] === 'notification' && l['state'] === 'failed' && l['execution_id'] === e.id);
  t.match(failedLine, { level: /error|50/, job: 'nowhere', channel: 'webhook', attempt: 3 });
});

t.test('rules are checked when the job is saved', async (t) => {
  const cases: [unknown, string][] = [
    [[{ on: 'sometimes', webhook: `${rules.url}/x` }], 'notify[0].on'],
    [[{ on: 'failure' }], 'notify[0]'],
    [[{ on: 'failure', webhook: 'ftp://example.com/' }], 'notify[0].webhook'],
    [[{ on: 'failure', email: ['not an address'] }], 'notify[0].email'],
    [[{ on: 'failure', webhook: `${rules.url}/x`, payload: 'job {{.Job}}' }], 'notify[0].payload'],
    [[{ on: 'failure', webhook: `${rules.url}/x`, payload: '{{if .Success}}x{{end}}' }], 'notify[0].payload'],
    [[{ on: 'failure', webhook: `${rules.url}/x`, color: 'red' }], 'notify[0].color'],
    ['failure', 'notify'],
  ];
  for (const [notify, field] of cases) {
    const a = await call(light.url, 'POST', '/v1/jobs', { name: 'badrules', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' }, notify });
    t.equal(a.status, 400, `${JSON.stringify(notify)}: ${a.text}`);
    t.match(a.body, { error: { field } }, JSON.stringify(notify));
  }
  t.equal((await call(light.url, 'GET', '/v1/jobs/badrules')).status, 404, 'nothing was stored');
  const unknown = (await call(light.url, 'POST', '/v1/jobs', { name: 'badrules', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' }, notify: [{ on: 'always', webhook: `${rules.url}/x`, payload: '{{.Nope}}' }] })).body as { error: { message: string } };
  t.match(unknown.error.message, /unknown variable \.Nope/);
});

t.test('a delivery still pending when the process dies is delivered after the restart', async (t) => {
  await put({ name: 'survivor', executor_config: { command: 'true' }, notify: [{ on: 'always', webhook: `${rules.url}/survivor` }] });
  rules.failAll(true);
  const e = await run('survivor');
  await until('a failed attempt of the survivor delivery', async () => {
    const n = (await execution('survivor', e.id)).notifications.find((x) => x.source === 'rule');
    return n && n.attempts >= 1 && n.state === 'pending' ? n : undefined;
  });
  await light.kill9();
  rules.failAll(false);
  light = await startLight(dir.path, args);
  const ns = await settled('survivor', e.id, 3);
  t.match(ns.find((n) => n.source === 'rule'), { state: 'delivered' });
  t.equal(rules.delivered('/survivor').length, 1);
});

t.test('no secret in the log or the API', async (t) => {
  const answers = [
    (await call(light.url, 'GET', '/v1/jobs/report/executions')).text,
    (await call(light.url, 'GET', '/v1/jobs')).text,
    (await call(light.url, 'GET', '/metrics')).text,
  ].join('\n');
  for (const secret of [mailPassword, headerSecret]) {
    t.notOk(answers.includes(secret), 'not in API answers');
    t.notOk(light.log().includes(secret), 'not in the log');
  }
});
