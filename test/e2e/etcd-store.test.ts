// Two `clocktower agent --server --store etcd` processes on a real etcd:
// one leader; jobs created through either run once per scheduled second;
// kill -9 of the leader while 10 jobs fire every second (the other takes
// over, no second ran twice, every second ran or is recorded as skipped);
// `raft` commands explain the cluster runs on etcd; snapshots bound the log
// in etcd; a restart of every server restores all state from etcd; a
// leader paused (SIGSTOP) past its lease is replaced and, resumed, commits
// no fire; etcd
// away: writes answer 503 and nothing fires, and firing resumes when it is back;
// on an etcd with a small --max-request-bytes, 1,500 jobs due on the same
// second all run once (their fires are more than one request may hold).
import t from 'tap';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { call, executions, mainJs, tempDir, until, type ExecutionJson } from '../support/light-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess, type ServerSpec } from '../support/cluster-processes.js';
import { Etcd3 } from 'etcd3';
import { startEtcd } from '../support/etcd-server.js';

const run = promisify(execFile);
const etcd = await startEtcd();
const root = tempDir('ct-etcd-store-');
const specs: ServerSpec[] = (await serverSpecs(root.path, ['e1', 'e2'])).map((s) => ({
  ...s, args: ['--store', 'etcd', '--etcd-endpoints', etcd.url, '--etcd-prefix', '/ct-e2e', '--etcd-lease-ttl', '2s', '--snapshot-every', '50'],
}));
const servers = new Map<string, ServerProcess>();
for (const s of await Promise.all(specs.map((s) => startServerProcess(s)))) servers.set(s.name, s);
t.teardown(async () => {
  for (const s of servers.values()) await s.kill9().catch(() => {});
  root.remove();
  await etcd.stop();
});
const live = () => [...servers.values()].filter((s) => s.child.exitCode === null && s.child.signalCode === null);

interface SkipJson { first_scheduled_at: string; last_scheduled_at: string; count: number; reason: string }

t.test('one leader; writes through the follower; members; raft commands explain etcd', async (t) => {
  const leader = await agreedLeader(live());
  const follower = live().find((s) => s !== leader);
  if (!follower) throw new Error('no follower');
  const created = await call(follower.url, 'POST', '/v1/jobs', { name: 'via-follower', schedule: '@manually', executor: 'shell', executor_config: { command: 'echo hi' } });
  t.equal(created.status, 201, 'created through the follower');
  const read = await call(follower.url, 'GET', '/v1/jobs/via-follower');
  t.equal(read.status, 200, 'read back at once on the follower (linearizable read)');
  const members = (await call(follower.url, 'GET', '/v1/members')).body as { Name: string; role: string }[];
  t.same(members.filter((m) => m.role !== 'agent').map((m) => [m.Name, m.role]).sort(),
    [['e1', leader.name === 'e1' ? 'leader' : 'follower'], ['e2', leader.name === 'e2' ? 'leader' : 'follower']]);
  const cli = await run(process.execPath, [mainJs, 'raft', 'list-peers', '--address', follower.url]).catch((err: { stdout: string; stderr: string; code: number }) => err);
  t.match(`${cli.stdout}${cli.stderr}`, /runs on etcd/, 'clocktower raft says the cluster runs on etcd');
  const remove = await run(process.execPath, [mainJs, 'raft', 'remove-peer', '--peer-id', follower.name, '--address', follower.url]).catch((err: { stdout: string; stderr: string; code: number }) => err);
  t.match(`${remove.stdout}${remove.stderr}`, /runs on etcd.*no Raft peers/s, 'so does raft remove-peer, and removes nothing');
  t.equal(live().length, 2);
  for (const s of live()) {
    const l = await call(s.url, 'GET', '/v1/leader');
    t.equal((l.body as { Name: string }).Name, leader.name, `${s.name}: /v1/leader names the leader`);
  }
});

t.test('kill -9 of the leader while 10 jobs fire every second: each second ran once or is recorded as skipped', async (t) => {
  const leader = await agreedLeader(live());
  const jobs = Array.from({ length: 10 }, (_, i) => `tick-${i}`);
  for (const name of jobs) {
    const r = await call(leader.url, 'POST', '/v1/jobs', { name, schedule: '@every 1s', executor: 'shell', executor_config: { command: 'true' } });
    t.equal(r.status, 201, `create ${name}`);
  }
  await until('every job to run twice', async () => {
    for (const name of jobs) if ((await executions(leader.url, name)).length < 2) return undefined;
    return true;
  });
  const killedAt = Date.now();
  await leader.kill9();
  servers.delete(leader.name);
  const next = await agreedLeader(live());
  t.not(next.name, leader.name, 'the other server leads');
  await until('fires after the failover', async () => {
    for (const name of jobs) {
      const list = await executions(next.url, name);
      if (!list.some((e) => Date.parse(e.scheduled_at) > killedAt + 3000 && e.finished_at !== null)) return undefined;
    }
    return true;
  }, 30_000);
  t.comment(`failover: fires resumed within ${Date.now() - killedAt} ms of the kill`);
  for (const name of jobs) {
    const list = (await executions(next.url, name)).filter((e: ExecutionJson) => e.trigger !== 'manual');
    const skips = (await call(next.url, 'GET', `/v1/jobs/${name}/skipped`)).body as SkipJson[];
    const seconds = list.map((e) => Date.parse(e.scheduled_at));
    t.equal(new Set(seconds).size, seconds.length, `${name}: no scheduled second ran twice`);
    const covered = new Set(seconds);
    for (const s of skips) {
      for (let at = Date.parse(s.first_scheduled_at); at <= Date.parse(s.last_scheduled_at); at += 1000) covered.add(at);
    }
    const missing: number[] = [];
    for (let at = Math.min(...seconds); at <= Math.max(...seconds); at += 1000) if (!covered.has(at)) missing.push(at);
    t.same(missing.map((m) => new Date(m).toISOString()), [], `${name}: every second from first to last ran or is recorded as skipped`);
  }
  // Stop the firing so the restart test compares a still state.
  for (const name of jobs) await call(next.url, 'POST', `/v1/jobs/${name}/toggle`);
});

t.test('snapshots bound the log kept in etcd', async (t) => {
  const admin = new Etcd3({ hosts: etcd.url });
  t.teardown(() => admin.close());
  t.ok(await admin.get('/ct-e2e/snapshot').buffer(), 'a snapshot is stored');
  const batches = await admin.getAll().prefix('/ct-e2e/log/').keys();
  t.ok(batches.length <= 50, `at most --snapshot-every batches are kept (${batches.length})`);
});

t.test('a restart of every server restores all state from etcd', async (t) => {
  const before = live()[0];
  if (!before) throw new Error('no server');
  const jobsBefore = ((await call(before.url, 'GET', '/v1/jobs')).body as { name: string; disabled: boolean }[]).map((j) => [j.name, j.disabled]).sort();
  const execsBefore = (await executions(before.url, 'tick-0')).length;
  for (const s of live()) { await s.kill9(); servers.delete(s.name); }
  for (const s of await Promise.all(specs.map((s) => startServerProcess(s)))) servers.set(s.name, s);
  const leader = await agreedLeader(live());
  const jobsAfter = ((await call(leader.url, 'GET', '/v1/jobs')).body as { name: string; disabled: boolean }[]).map((j) => [j.name, j.disabled]).sort();
  t.same(jobsAfter, jobsBefore, 'every job is back');
  t.ok((await executions(leader.url, 'tick-0')).length >= execsBefore, 'the execution history is back');
  const made = await call(leader.url, 'POST', '/v1/jobs', { name: 'after-restart', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });
  t.equal(made.status, 201, 'writes go on after the restart');
});

t.test('a leader paused past its lease is replaced; resumed, it commits no fire', async (t) => {
  const old = await agreedLeader(live());
  const other = live().find((s) => s !== old);
  if (!other) throw new Error('no second server');
  const jobs = Array.from({ length: 5 }, (_, i) => `paused-${i}`);
  for (const name of jobs) {
    const r = await call(old.url, 'POST', '/v1/jobs', { name, schedule: '@every 1s', executor: 'shell', executor_config: { command: 'true' } });
    t.equal(r.status, 201, `create ${name}`);
  }
  await until('every job to run twice', async () => {
    for (const name of jobs) if ((await executions(old.url, name)).length < 2) return undefined;
    return true;
  });
  old.child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  try {
    await until('the other server to lead', async () => {
      const is = await call(other.url, 'GET', '/v1/isleader').catch(() => null);
      return is?.status === 200 || undefined;
    }, 30_000);
    await until('fires on the new leader', async () => {
      for (const name of jobs) {
        if (!(await executions(other.url, name)).some((e) => Date.parse(e.scheduled_at) > stoppedAt + 1000 && e.finished_at !== null)) return undefined;
      }
      return true;
    }, 30_000);
  } finally {
    old.child.kill('SIGCONT');
  }
  const resumedAt = Date.now();
  // Resumed, its timers are overdue: its dispatcher commits the fires it thinks are
  // due before any answer from etcd can tell it that it lost the lease, and etcd
  // refuses them (the txn compares a leader key that is gone).
  await until('the resumed server\'s fire commit to be refused by etcd', async () => /etcd: refused a batch of \d+ command\(s\) at \d+: this server no longer holds the leader key/.test(old.log()) || undefined, 15_000);
  t.pass('the resumed server\'s write was refused by etcd');
  t.match(old.log(), /stops leading/, 'and it stopped leading');
  t.equal((await agreedLeader(live(), 30_000)).name, other.name, 'the resumed server follows');
  await until('fires after the resume', async () => {
    for (const name of jobs) {
      if (!(await executions(other.url, name)).some((e) => Date.parse(e.scheduled_at) > resumedAt + 1000 && e.finished_at !== null)) return undefined;
    }
    return true;
  }, 30_000);
  for (const name of jobs) {
    const seconds = (await executions(other.url, name)).filter((e) => e.trigger !== 'manual').map((e) => Date.parse(e.scheduled_at));
    t.equal(new Set(seconds).size, seconds.length, `${name}: no scheduled second ran twice`);
  }
  for (const name of jobs) await call(other.url, 'POST', `/v1/jobs/${name}/toggle`);
});

t.test('etcd away: writes answer 503 and nothing fires; back: firing resumes', async (t) => {
  const leader = await agreedLeader(live());
  const made = await call(leader.url, 'POST', '/v1/jobs', { name: 'while-away', schedule: '@every 1s', executor: 'shell', executor_config: { command: 'true' } });
  t.equal(made.status, 201);
  await until('the job to run', async () => (await executions(leader.url, 'while-away')).some((e) => e.finished_at !== null) || undefined);
  await etcd.kill();
  const refusedAt = await until('a write to be refused', async () => {
    const r = await call(leader.url, 'POST', '/v1/jobs', { name: 'refused', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });
    return r.status === 503 ? Date.now() : undefined;
  }, 30_000);
  const read = await call(leader.url, 'GET', '/v1/jobs/while-away');
  t.equal(read.status, 503, 'a linearizable read answers 503 too');
  t.equal((await call(leader.url, 'GET', '/v1/jobs/while-away?stale')).status, 200, '?stale reads the local copy');
  await etcd.restart();
  const backAt = Date.now();
  const next = await agreedLeader(live(), 30_000);
  await until('firing to resume', async () => (await executions(next.url, 'while-away')).some((e) => e.started_at !== null && Date.parse(e.started_at) > backAt && e.finished_at !== null) || undefined, 30_000);
  const during = (await executions(next.url, 'while-away')).filter((e) => e.started_at !== null && Date.parse(e.started_at) > refusedAt && Date.parse(e.started_at) < backAt);
  t.same(during.map((e) => e.started_at), [], 'nothing ran while etcd was away');
  t.equal((await call(next.url, 'GET', '/v1/jobs/refused')).status, 404, 'the refused write was not applied later');
  const after = await call(next.url, 'POST', '/v1/jobs', { name: 'after-etcd', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });
  t.equal(after.status, 201, 'writes are accepted again');
});

t.test('a data dir that holds a built-in Raft log is refused with --store etcd, and kept', async (t) => {
  const dir = tempDir('ct-etcd-raftdir-');
  t.teardown(() => dir.remove());
  const [spec] = await serverSpecs(dir.path, ['r1']);
  if (!spec) throw new Error('no spec');
  const raft = await startServerProcess({ ...spec, args: ['--bootstrap-expect', '1'] });
  await agreedLeader([raft]);
  t.equal((await call(raft.url, 'POST', '/v1/jobs', { name: 'kept', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } })).status, 201);
  await raft.stop();
  const refused = await run(process.execPath, [mainJs, 'agent', '--server', '--node-name', 'r1', '--data-dir', spec.dataDir, '--rpc-addr', spec.rpcAddr,
    '--http-addr', spec.httpAddr, '--store', 'etcd', '--etcd-endpoints', etcd.url]).catch((err: { stderr: string; code: number }) => err);
  t.match(refused.stderr, /holds a built-in Raft log: start without --store etcd/, 'a clear error');
  const back = await startServerProcess({ ...spec, args: ['--bootstrap-expect', '1'] });
  t.teardown(() => back.kill9());
  await agreedLeader([back]);
  t.equal((await call(back.url, 'GET', '/v1/jobs/kept')).status, 200, 'the Raft data is untouched');
});

t.test('an etcd that takes requests of at most 128 KiB: 1,500 jobs due on the same second all run, once', async (t) => {
  const small = await startEtcd(20_000, undefined, ['--max-request-bytes', String(128 * 1024)]);
  t.teardown(() => small.stop());
  let hits = 0;
  const target = createServer((_req, res) => { hits++; res.end('ok'); });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => target.close(() => r())));
  const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/`;
  const dir = tempDir('ct-etcd-burst-');
  t.teardown(() => dir.remove());
  const [spec] = await serverSpecs(dir.path, ['b1']);
  if (!spec) throw new Error('no spec');
  const server = await startServerProcess({ ...spec, args: ['--store', 'etcd', '--etcd-endpoints', small.url, '--etcd-prefix', '/ct-burst'] });
  t.teardown(() => server.kill9());
  await agreedLeader([server]);
  const jobs = 1500;
  const names = Array.from({ length: jobs }, (_, i) => `burst-${i}`);
  // Far enough ahead to create them all first; their fires take about 360 KB.
  const at = Math.ceil((Date.now() + 15_000) / 1000) * 1000;
  const schedule = `@at ${new Date(at).toISOString().replace('.000Z', 'Z')}`;
  for (let i = 0; i < jobs; i += 150) {
    const r = await call(server.url, 'POST', '/v1/restore', names.slice(i, i + 150).map((name) => ({ name, schedule, executor: 'http', executor_config: { url, method: 'GET' } })));
    t.equal(r.status, 200, `restore ${i}..${i + 149}`);
  }
  t.ok(Date.now() < at, 'every job was created before its second');
  const succeeded = async () => {
    const r = await call(server.url, 'GET', `/v1/jobs?q=burst-&status=success&_end=0&stale`);
    return Number(r.headers['x-total-count']);
  };
  await until('every job to succeed', async () => (await succeeded()) === jobs || undefined, 90_000);
  t.equal(hits, jobs, 'each job called the target once');
  let doubled = 0;
  for (const name of names) if ((await executions(server.url, name)).length !== 1) doubled++;
  t.equal(doubled, 0, 'every job has exactly one execution');
  t.notMatch(server.log(), /stops leading/, 'the leader never stepped down');
});
