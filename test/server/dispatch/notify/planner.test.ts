// Which deliveries an execution owes, rendered: rule matching (failure,
// recovery, always, start), the last attempt only, the Dkron settings, and
// the record ids that make a second commit harmless. Pure: a real state
// machine fed commands, no clock.
import t from 'tap';
import { NotificationPlanner, isLastAttempt, maxBodiesChars, maxBodyChars, ruleMatches } from '../../../../server/dispatch/notify/planner.js';
import { checkNotifySettings, defaultNotifySettings, type NotifySettings, type ParsedTemplates } from '../../../../server/dispatch/notify/notify-settings.js';
import { CommandType, type ExecutionResult } from '../../../../server/state/commands.js';
import { defaultCatchUp, type JobSpec, type NotifyRule } from '../../../../server/state/job.js';
import { StateMachine } from '../../../../server/state/state-machine.js';
import { mailProblem, notifyRulesProblem } from '../../../../server/dispatch/notify/rules.js';

t.test('rule matching', async (t) => {
  const finish = (success: boolean, previousFailed: boolean) => ({ event: 'finish' as const, success, previousFailed });
  const start = { event: 'start' as const, success: false, previousFailed: false };
  const table: [NotifyRule['on'], boolean, boolean, boolean][] = [
    // on, success, previous run failed, fires
    ['failure', false, false, true],
    ['failure', false, true, true],
    ['failure', true, true, false],
    ['recovery', true, true, true],
    ['recovery', true, false, false],
    ['recovery', false, true, false],
    ['always', true, false, true],
    ['always', false, true, true],
    ['start', true, false, false],
  ];
  for (const [on, success, prev, fires] of table) t.equal(ruleMatches({ on }, finish(success, prev)), fires, `${on} success=${success} previousFailed=${prev}`);
  t.equal(ruleMatches({ on: 'start' }, start), true);
  for (const on of ['failure', 'recovery', 'always'] as const) t.equal(ruleMatches({ on }, start), false, `${on} at a start`);
});

t.test('the last attempt: a success, a stop, or no retry left', async (t) => {
  t.equal(isLastAttempt({ retries: 2 }, { attempt: 1 }, 'failed'), false);
  t.equal(isLastAttempt({ retries: 2 }, { attempt: 3 }, 'failed'), true);
  t.equal(isLastAttempt({ retries: 2 }, { attempt: 1 }, 'succeeded'), true);
  t.equal(isLastAttempt({ retries: 2 }, { attempt: 1 }, 'stopped'), true);
  t.equal(isLastAttempt({ retries: 0 }, { attempt: 1 }, 'lost'), true);
});

function spec(name: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    name, displayName: '', timezone: '', schedule: '@manually', owner: '', ownerEmail: '', disabled: false,
    tags: {}, metadata: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor: 'shell',
    executorConfig: { command: 'true' }, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp, ...over,
  };
}

class World {
  readonly sm = new StateMachine({ historyLimit: 10 });
  private index = 0;
  readonly planner: NotificationPlanner;
  constructor(settings: NotifySettings) {
    const templates = checkNotifySettings(settings);
    if ('key' in templates) throw new Error(templates.message);
    this.planner = new NotificationPlanner({ settings, templates: templates as ParsedTemplates, reportingNode: 'leader1', state: this.sm });
  }
  put(s: JobSpec): void {
    this.sm.apply({ type: CommandType.PutJob, atMs: 1000, job: s }, ++this.index);
  }
  fire(name: string, atMs: number) {
    const r = this.sm.apply({ type: CommandType.RecordFires, atMs, fires: [{ jobName: name, scheduledAtMs: atMs, trigger: 'manual', nodes: ['n1'] }], skips: [], lastScheduled: [] }, ++this.index);
    if (!r.ok || !r.executions[0]) throw new Error('no execution');
    return r.executions[0];
  }
  start(id: string, atMs: number): void {
    this.sm.apply({ type: CommandType.StartExecutions, atMs, starts: [{ id, nodeName: 'n1' }] }, ++this.index);
  }
  result(id: string, state: ExecutionResult['state'], atMs: number): ExecutionResult {
    return { id, finishedAtMs: atMs, state, output: `output of ${id}`, outputTruncated: false, exitCode: state === 'succeeded' ? 0 : 2, error: '' };
  }
  finish(result: ExecutionResult) {
    const notifications = this.planner.forFinish(result);
    const r = this.sm.apply({ type: CommandType.FinishExecutions, atMs: result.finishedAtMs, results: [result], notifications }, ++this.index);
    if (!r.ok) throw r.error;
    return { notifications, created: r.executions };
  }
}

t.test('a job\'s rules: failure, then recovery, then nothing for a second success', async (t) => {
  const w = new World(defaultNotifySettings);
  w.put(spec('j', { notify: [
    { on: 'failure', email: [], webhook: 'http://hooks/fail', payload: 'FAIL {{.JobName}} {{.ExitCode}} by {{.ReportingNode}}' },
    { on: 'recovery', email: [], webhook: 'http://hooks/ok', payload: '' },
  ] }));
  const e1 = w.fire('j', 2000);
  const { notifications: n1 } = w.finish(w.result(e1.id, 'failed', 2500));
  t.same(n1.map((n) => [n.id, n.on, n.url, n.body]), [[`${e1.id}:finish:0`, 'failure', 'http://hooks/fail', 'FAIL j 2 by leader1']]);
  t.same(w.sm.notificationsOf(e1.id).map((n) => n.state), ['pending'], 'stored with the result');
  const e2 = w.fire('j', 3000);
  const { notifications: n2 } = w.finish(w.result(e2.id, 'succeeded', 3500));
  t.same(n2.map((n) => n.on), ['recovery']);
  t.match(JSON.parse(n2[0]?.body ?? '{}'), { job_name: 'j', execution_id: e2.id, event: 'finish', success: true, state: 'succeeded', exit_code: 0, output: `output of ${e2.id}` }, 'the default webhook body is JSON');
  const e3 = w.fire('j', 4000);
  t.same(w.finish(w.result(e3.id, 'succeeded', 4500)).notifications, []);
});

t.test('a failure that will be retried owes nothing yet; the last attempt does', async (t) => {
  const w = new World(defaultNotifySettings);
  w.put(spec('r', { retries: 1, notify: [{ on: 'failure', email: [], webhook: 'http://hooks/x', payload: '{{.Attempt}}' }] }));
  const e = w.fire('r', 2000);
  const { notifications, created } = w.finish(w.result(e.id, 'failed', 2500));
  t.same(notifications, []);
  const retry = created[0];
  if (!retry) throw new Error('no retry');
  w.start(retry.id, 4000);
  const last = w.finish(w.result(retry.id, 'failed', 4500));
  t.same(last.notifications.map((n) => n.body), ['2']);
  t.same(w.planner.forFinish(w.result(retry.id, 'failed', 4600)), [], 'an execution already finished owes nothing again');
});

t.test('Dkron settings: pre-webhook at start, webhook and mail to owner_email after', async (t) => {
  const w = new World({
    ...defaultNotifySettings,
    webhook: { endpoint: 'http://hooks/done', payload: '{{.JobName}}:{{.Success}}:{{.NodeName}}', headers: [['X-Secret', 'shh']] },
    preWebhook: { endpoint: 'http://hooks/pre', payload: 'start {{.JobName}} at {{.StartTime}}', headers: [] },
    mail: { host: 'smtp', port: 25, username: '', password: '', from: '', payload: '', subjectPrefix: '[Dkron]' },
  });
  w.put(spec('d', { ownerEmail: 'a@x.org,b@x.org' }));
  const e = w.fire('d', 2000);
  const starts = w.planner.forStart(e);
  t.same(starts.map((n) => [n.id, n.source, n.body]), [[`${e.id}:start:0`, 'pre-webhook', `start d at ${new Date(2000).toISOString()}`]]);
  const { notifications } = w.finish(w.result(e.id, 'failed', 2500));
  t.same(notifications.map((n) => [n.source, n.channel]), [['webhook', 'webhook'], ['mail', 'mail']]);
  t.equal(notifications[0]?.body, 'd:false:n1');
  t.same(notifications[1]?.to, ['a@x.org', 'b@x.org']);
  t.equal(notifications[1]?.subject, '[Dkron] Failed d execution report');
  t.equal(notifications[1]?.body, `output of ${e.id}`, 'without mail-payload the body is the output, as in Dkron');
  t.notOk(JSON.stringify(notifications).includes('shh'), 'no header value in a record');
  t.match(w.planner.forStart({ ...e, jobName: 'gone' }), [], 'a deleted job owes nothing');
});

t.test('the report lists the execution\'s group', async (t) => {
  const w = new World({ ...defaultNotifySettings, webhook: { endpoint: 'http://hooks/done', payload: '{{.Report}}', headers: [] } });
  w.put(spec('g'));
  const e = w.fire('g', 2000);
  const body = w.finish(w.result(e.id, 'succeeded', 2500)).notifications[0]?.body ?? '';
  t.match(body, /^Executed: g\nReporting node: leader1\nStart time: 1970-01-01T00:00:02.000Z\nEnd time: 1970-01-01T00:00:02.500Z\nSuccess: true\nNode: n1\nOutput: output of \d+\nExecution group: \d+\n\t\[Node\]: n1/);
});

t.test('settings are checked: a webhook needs its payload, templates must parse', async (t) => {
  t.match(checkNotifySettings({ ...defaultNotifySettings, webhook: { endpoint: 'http://x/', payload: '', headers: [] } }), { key: 'webhook-payload' });
  t.match(checkNotifySettings({ ...defaultNotifySettings, preWebhook: { endpoint: 'nope', payload: 'x', headers: [] } }), { key: 'pre-webhook-endpoint' });
  t.match(checkNotifySettings({ ...defaultNotifySettings, webhook: { endpoint: 'http://x/', payload: '{{.Bad}}', headers: [] } }), { key: 'webhook-payload', message: /unknown variable \.Bad/ });
  t.match(checkNotifySettings({ ...defaultNotifySettings, mail: { host: 'h', port: 25, username: 'u', password: '', from: '', payload: '', subjectPrefix: '' } }), { key: 'mail-password' });
  t.match(checkNotifySettings({ ...defaultNotifySettings, mail: { host: 'h', port: 70000, username: '', password: '', from: '', payload: '', subjectPrefix: '' } }), { key: 'mail-port' });
  t.notOk('key' in checkNotifySettings(defaultNotifySettings));
});

t.test('save-time checks beyond the shape: templates, and mail only where the server can send it', async (t) => {
  const rules = (r: Partial<NotifyRule>): Pick<JobSpec, 'notify'> => ({ notify: [{ on: 'failure', email: [], webhook: 'http://x/', payload: '', ...r }] });
  t.equal(notifyRulesProblem(rules({ payload: '{{.JobName}}' })), null);
  t.match(notifyRulesProblem(rules({ payload: '{{.JobNme}}' })), { field: 'notify[0].payload', message: /unknown variable \.JobNme/ });
  t.match(mailProblem({ mail: null }, rules({ email: ['a@b.c'] })), { field: 'notify[0].email', message: /--mail-host/ });
  t.equal(mailProblem({ mail: null }, rules({})), null, 'a webhook needs no mail settings');
});

t.test('bodies are cut to fit the log entry they are committed in', async (t) => {
  const w = new World(defaultNotifySettings);
  const rules = Array.from({ length: 10 }, (): NotifyRule => ({ on: 'always', email: [], webhook: 'http://hooks/x', payload: '{{.Output}}' }));
  w.put(spec('big', { notify: rules }));
  const e = w.fire('big', 2000);
  const result = { ...w.result(e.id, 'succeeded', 2500), output: 'x'.repeat(200_000) };
  const specs = w.planner.forFinish(result);
  t.equal(specs.length, 10);
  const total = specs.reduce((n, s) => n + s.body.length, 0);
  t.ok(total <= maxBodiesChars, `${total} characters in all`);
  t.match(specs[0]?.body, /\n\[cut: \d+ more characters\]$/);
  const one = new World(defaultNotifySettings);
  one.put(spec('one', { notify: [rules[0] ?? { on: 'always', email: [], webhook: 'http://hooks/x', payload: '' }] }));
  const e1 = one.fire('one', 2000);
  t.equal(one.planner.forFinish({ ...one.result(e1.id, 'succeeded', 2500), output: 'y'.repeat(100_000) })[0]?.body.length, maxBodyChars, 'one body: at most 64 Ki characters');
});
