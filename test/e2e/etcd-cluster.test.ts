// Two `clocktower agent --server --store etcd` processes on a real
// three-member etcd cluster on loopback: kill -9 of the leading server — the
// other leads within a few seconds, and an @every 1s job neither runs a
// scheduled second twice nor loses one (each ran or is recorded as skipped);
// kill -9 of one etcd member — the same server leads, writes commit, and the
// job keeps firing once per second.
import t, { type Test } from 'tap';
import { call, executions, tempDir, until, type ExecutionJson } from '../support/light-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess, type ServerSpec } from '../support/cluster-processes.js';
import { startEtcdCluster } from '../support/etcd-server.js';

const cluster = await startEtcdCluster(3);
const root = tempDir('ct-etcd-cluster-');
const specs: ServerSpec[] = (await serverSpecs(root.path, ['c1', 'c2'])).map((s) => ({
  ...s, args: ['--store', 'etcd', '--etcd-endpoints', cluster.urls.join(','), '--etcd-prefix', '/ct-cluster', '--etcd-lease-ttl', '2s'],
}));
const servers = new Map<string, ServerProcess>();
for (const s of await Promise.all(specs.map((s) => startServerProcess(s)))) servers.set(s.name, s);
t.teardown(async () => {
  for (const s of servers.values()) await s.kill9().catch(() => {});
  root.remove();
  await cluster.stop();
});
const live = () => [...servers.values()].filter((s) => s.child.exitCode === null && s.child.signalCode === null);

interface SkipJson { first_scheduled_at: string; last_scheduled_at: string; count: number }

/** Scheduled runs of a job: no second twice, and every second from the first to the last ran or is recorded as skipped. */
async function checkSeconds(t: Test, url: string, job: string): Promise<number[]> {
  const list = (await executions(url, job)).filter((e: ExecutionJson) => e.trigger !== 'manual');
  const seconds = list.map((e) => Date.parse(e.scheduled_at)).sort((a, b) => a - b);
  const twice = seconds.filter((s, i) => seconds[i - 1] === s);
  t.same(twice.map((s) => new Date(s).toISOString()), [], `${job}: no scheduled second ran twice`);
  const skips = (await call(url, 'GET', `/v1/jobs/${job}/skipped`)).body as SkipJson[];
  const covered = new Set(seconds);
  for (const s of skips) for (let at = Date.parse(s.first_scheduled_at); at <= Date.parse(s.last_scheduled_at); at += 1000) covered.add(at);
  const missing: string[] = [];
  for (let at = seconds[0] ?? 0; at <= (seconds.at(-1) ?? -1); at += 1000) if (!covered.has(at)) missing.push(new Date(at).toISOString());
  t.same(missing, [], `${job}: no scheduled second was lost (each ran or is recorded as skipped)`);
  return seconds;
}

t.test('kill -9 of the leading server: the other leads within seconds; no second runs twice or is lost', async (t) => {
  const leader = await agreedLeader(live());
  const other = live().find((s) => s !== leader);
  if (!other) throw new Error('no second server');
  const made = await call(leader.url, 'POST', '/v1/jobs', { name: 'beat', schedule: '@every 1s', executor: 'shell', executor_config: { command: 'true' } });
  t.equal(made.status, 201);
  await until('three runs', async () => (await executions(leader.url, 'beat')).filter((e) => e.finished_at !== null).length >= 3 || undefined);
  const killedAt = Date.now();
  await leader.kill9();
  servers.delete(leader.name);
  // Lease TTL 2 s: the other server must lead well within 10 s.
  await until('the other server to lead', async () => (await call(other.url, 'GET', '/v1/isleader').catch(() => null))?.status === 200 || undefined, 10_000);
  const tookOver = Date.now() - killedAt;
  t.comment(`takeover ${tookOver} ms after the kill (lease TTL 2 s)`);
  await until('runs scheduled after the takeover', async () => {
    const list = await executions(other.url, 'beat');
    return list.filter((e) => Date.parse(e.scheduled_at) > killedAt + tookOver && e.finished_at !== null).length >= 3 || undefined;
  }, 20_000);
  await checkSeconds(t, other.url, 'beat');
  // Bring the killed server back for the next test: it follows.
  const back = await startServerProcess(specs.find((s) => s.name === leader.name) ?? specs[0]!);
  servers.set(back.name, back);
  t.equal((await agreedLeader(live())).name, other.name, 'the restarted server follows');
});

t.test('kill -9 of one etcd member: the same server leads, writes commit, the job fires once a second', async (t) => {
  const leader = await agreedLeader(live());
  const before = (await executions(leader.url, 'beat')).length;
  await cluster.kill(0);
  const killedAt = Date.now();
  for (let i = 0; i < 5; i++) {
    const r = await call(leader.url, 'POST', '/v1/jobs', { name: `after-member-${i}`, schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });
    t.equal(r.status, 201, `write ${i} after the member died`);
  }
  await until('runs scheduled after the member died', async () => {
    const list = await executions(leader.url, 'beat');
    return list.filter((e) => Date.parse(e.scheduled_at) > killedAt + 1000 && e.finished_at !== null).length >= 3 || undefined;
  }, 20_000);
  t.equal((await agreedLeader(live())).name, leader.name, 'the same server leads');
  t.ok((await executions(leader.url, 'beat')).length > before, 'the job kept firing');
  for (const s of live()) t.equal((await call(s.url, 'GET', '/v1/jobs/after-member-4')).status, 200, `${s.name} has the writes`);
  await checkSeconds(t, leader.url, 'beat');
});
