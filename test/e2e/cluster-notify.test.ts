// Notifications across a leader kill in a real 3-server cluster: a delivery
// that the old leader could not make (its receiver refused every attempt)
// is still pending in the replicated state after kill -9 of the leader, and
// the new leader delivers it.
import t from 'tap';
import { call, tempDir, until } from '../support/light-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';
import { startWebhookReceiver } from '../support/notify-receivers.js';

interface Execution { id: string; finished_at: string | null; state: string; notifications: { source: string; state: string; attempts: number }[] }

const receiver = await startWebhookReceiver();
const root = tempDir('ct-cluster-notify-');
const specs = await serverSpecs(root.path, ['n1', 'n2', 'n3']);
const extra = ['--notify-attempts', '50', '--notify-backoff', '200ms'];
const servers = await Promise.all(specs.map((s) => startServerProcess(s, extra)));
t.teardown(async () => {
  for (const s of servers) await s.kill9().catch(() => {});
  await receiver.close();
  root.remove();
});
const live = (): ServerProcess[] => servers.filter((s) => s.child.exitCode === null && s.child.signalCode === null);

async function list(url: string): Promise<Execution[]> {
  const a = await call(url, 'GET', '/v1/jobs/hooked/executions');
  if (a.status !== 200) throw new Error(`executions: ${a.status} ${a.text}`);
  return a.body as Execution[];
}

t.test('a pending delivery survives kill -9 of the leader and the new leader delivers it', async (t) => {
  const leader = await agreedLeader(live());
  const put = await call(leader.url, 'POST', '/v1/jobs', {
    name: 'hooked', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' },
    notify: [{ on: 'always', webhook: `${receiver.url}/cluster`, payload: 'done {{.JobName}} {{.ExecutionID}}' }],
  });
  t.equal(put.status, 201, put.text);
  receiver.failAll(true);
  t.equal((await call(leader.url, 'POST', '/v1/jobs/hooked/run')).status, 202);
  const tried = await until('the executions finished, each delivery refused at least once', async () => {
    const es = await list(leader.url);
    const ok = es.length > 0 && es.every((e) => e.finished_at !== null && e.notifications.some((n) => n.source === 'rule' && n.state === 'pending' && n.attempts >= 1));
    return ok ? es : undefined;
  });
  t.ok(tried.every((e) => e.state === 'succeeded'), 'the executions succeeded whatever the receiver does');
  await leader.kill9();
  receiver.failAll(false);
  const next = await agreedLeader(live(), 30_000);
  t.not(next.name, leader.name, 'a new leader');
  const done = await until('the new leader delivered every pending notification', async () => {
    const es = await list(next.url);
    return es.length === tried.length && es.every((e) => e.notifications.every((n) => n.state === 'delivered')) ? es : undefined;
  }, 30_000);
  for (const e of done) {
    t.ok(receiver.delivered('/cluster').some((r) => r.body === `done hooked ${e.id}`), `execution ${e.id}'s delivery arrived`);
  }
});
