// A real 3-server cluster on loopback: `clocktower agent --server` processes.
// Leader election, writes through a follower, kill -9 of the leader while 20
// jobs fire every second (afterwards every scheduled second ran exactly once
// or is recorded as skipped), restart from disk, join of a fourth server and
// remove-peer, a graceful leave of the leader, and a server that comes back
// from its data dir at new addresses. Each test works with the servers
// that are live when it starts (a test that needs a server down takes one
// down itself when none is), so any one runs alone with --grep.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { call, executions, mainJs, tempDir, until, type ExecutionJson } from '../support/light-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess, type ServerSpec } from '../support/cluster-processes.js';

const run = promisify(execFile);
const root = tempDir('ct-cluster-');
const specs = await serverSpecs(root.path, ['s1', 's2', 's3']);
const servers = new Map<string, ServerProcess>();
for (const s of await Promise.all(specs.map((s) => startServerProcess(s)))) servers.set(s.name, s);
t.teardown(async () => {
  for (const s of servers.values()) await s.kill9().catch(() => {});
  root.remove();
});
const live = () => [...servers.values()].filter((s) => s.child.exitCode === null && s.child.signalCode === null);

interface SkipJson { first_scheduled_at: string; last_scheduled_at: string; count: number; reason: string }

/** How many jobs the leader has (a linearizable read). */
async function jobCount(leader: ServerProcess): Promise<number> {
  const r = await call(leader.url, 'GET', '/v1/jobs');
  if (r.status !== 200) throw new Error(`GET /v1/jobs: ${r.status}`);
  return (r.body as unknown[]).length;
}

t.test('a leader within seconds; writes through a follower; reads anywhere', async (t) => {
  const leader = await agreedLeader(live());
  const [f1, f2] = live().filter((s) => s !== leader) as [ServerProcess, ServerProcess];
  const created = await call(f1.url, 'POST', '/v1/jobs', { name: 'via-follower', schedule: '@manually', executor: 'shell', executor_config: { command: 'echo hi' } });
  t.equal(created.status, 201, 'created through a follower');
  const read = await call(f2.url, 'GET', '/v1/jobs/via-follower');
  t.equal(read.status, 200, 'a linearizable read on another follower sees the write');
  const members = await call(f2.url, 'GET', '/v1/members');
  t.equal((members.body as unknown[]).length, 3);
  const peers = await run(process.execPath, [mainJs, 'raft', 'list-peers', '--address', f2.url]);
  t.match(peers.stdout, /s1.*\n.*s2.*\n.*s3/s);
  t.match(peers.stdout, new RegExp(`${leader.name}\\s+${leader.name}\\s+\\S+\\s+leader`));
  const bad = await call(f1.url, 'POST', '/v1/jobs', { name: 'bad', schedule: 'not a cron', executor: 'shell', executor_config: { command: 'true' } });
  t.equal(bad.status, 400, 'validation errors come back through the forward');
  // A follower checks the browser guards itself, before it forwards; the
  // forward names the leader's own address as Host, which the leader serves.
  const port = new URL(f1.url).port;
  const byName = await call(f1.url, 'POST', '/v1/jobs', { name: 'via-follower-by-name', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } }, { host: `localhost:${port}` });
  t.equal(byName.status, 201, `a follower reached by name forwards a JSON write: ${byName.text}`);
  t.equal((await call(f1.url, 'DELETE', '/v1/jobs/via-follower-by-name', undefined, { host: `localhost:${port}` })).status, 200, 'and a delete');
  const asText = await call(f1.url, 'POST', '/v1/jobs', JSON.stringify({ name: 'as-text', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } }), { 'content-type': 'text/plain' });
  t.equal(asText.status, 415, 'a text/plain write is refused by the follower');
  const foreign = await call(f1.url, 'POST', '/v1/jobs', { name: 'cross-origin', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } }, { origin: 'http://evil.example' });
  t.equal(foreign.status, 403, 'a foreign Origin is refused by the follower');
  const rebound = await call(f1.url, 'POST', '/v1/jobs', { name: 'rebound', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } }, { host: `rebind.attacker.example:${port}` });
  t.equal(rebound.status, 421, 'a rebinding Host is refused by the follower');
  for (const name of ['as-text', 'cross-origin', 'rebound']) t.equal((await call(leader.url, 'GET', `/v1/jobs/${name}`)).status, 404, `${name} never reached the leader`);
});

let killed: ServerSpec | null = null;

t.test('kill -9 of the leader while 20 jobs fire every second: every scheduled second ran exactly once or is recorded as skipped', async (t) => {
  const leader = await agreedLeader(live());
  const jobs = Array.from({ length: 20 }, (_, i) => `tick-${i}`);
  for (const name of jobs) {
    const r = await call(leader.url, 'POST', '/v1/jobs', { name, schedule: '@every 1s', executor: 'shell', executor_config: { command: 'true' } });
    t.equal(r.status, 201, `create ${name}`);
  }
  await until('every job to run twice', async () => {
    // A read the leader could not confirm in time (a 503 on a loaded machine) is asked again.
    for (const name of jobs) if (((await executions(leader.url, name).catch(() => null))?.length ?? 0) < 2) return undefined;
    return true;
  });
  const killedAt = Date.now();
  killed = specs.find((s) => s.name === leader.name) ?? null;
  await leader.kill9();
  const next = await agreedLeader(live());
  t.not(next.name, leader.name, 'a new leader');
  await until('fires after the failover', async () => {
    for (const name of jobs) {
      const list = await executions(next.url, name);
      if (!list.some((e) => Date.parse(e.scheduled_at) > killedAt + 3000 && e.finished_at !== null)) return undefined;
    }
    return true;
  }, 30_000);
  const failoverGaps: number[] = [];
  for (const name of jobs) {
    const list = (await executions(next.url, name)).filter((e: ExecutionJson) => e.trigger !== 'manual');
    const skips = (await call(next.url, 'GET', `/v1/jobs/${name}/skipped`)).body as SkipJson[];
    const seconds = list.map((e) => Date.parse(e.scheduled_at));
    t.equal(new Set(seconds).size, seconds.length, `${name}: no scheduled second ran twice`);
    const covered = new Set(seconds);
    for (const s of skips) {
      for (let at = Date.parse(s.first_scheduled_at); at <= Date.parse(s.last_scheduled_at); at += 1000) covered.add(at);
    }
    const first = Math.min(...seconds);
    const last = Math.max(...seconds);
    const missing: number[] = [];
    for (let at = first; at <= last; at += 1000) if (!covered.has(at)) missing.push(at);
    t.same(missing.map((m) => new Date(m).toISOString()), [], `${name}: every second from first to last ran or is recorded as skipped`);
    failoverGaps.push(skips.reduce((n, s) => n + s.count, 0));
  }
  t.comment(`skipped fires per job during the failover: ${failoverGaps.join(' ')}`);
});

t.test('the killed server restarts from its disk and catches up', async (t) => {
  if (!killed) {
    // Alone: take a follower down, and write while it is.
    const leader = await agreedLeader(live());
    const follower = live().find((s) => s !== leader) as ServerProcess;
    killed = specs.find((s) => s.name === follower.name) ?? null;
    await follower.kill9();
  }
  const down = killed;
  if (!down) throw new Error('no server to restart');
  const before = await agreedLeader(live());
  t.equal((await call(before.url, 'POST', '/v1/jobs', { name: 'while-one-is-down', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } })).status, 201);
  const want = await jobCount(before);
  const back = await startServerProcess(down);
  servers.set(back.name, back);
  await until('the restarted server to have every job', async () => {
    const r = await call(back.url, 'GET', '/v1/jobs?stale');
    return r.status === 200 && (r.body as unknown[]).length === want ? true : undefined;
  });
  const leader = await agreedLeader(live());
  t.ok(leader, 'all three agree on the leader again');
});

t.test('a fourth server joins, becomes a voter, and is removed with remove-peer', async (t) => {
  const leader = await agreedLeader(live());
  const [spec4] = await serverSpecs(root.path, ['s4']);
  if (!spec4) throw new Error('no spec');
  const s4 = await startServerProcess({ ...spec4, args: ['--join', leader.rpcAddr] });
  servers.set('s4', s4);
  await until('s4 to be a voter', async () => {
    const peers = (await call(leader.url, 'GET', '/v1/raft/peers')).body as { id: string; voter: boolean }[];
    return peers.some((p) => p.id === 's4' && p.voter) ? true : undefined;
  });
  const want = await jobCount(leader);
  await until('s4 to have the jobs', async () => {
    const r = await call(s4.url, 'GET', '/v1/jobs?stale');
    return r.status === 200 && (r.body as unknown[]).length === want ? true : undefined;
  });
  const follower = live().find((s) => s.name !== leader.name && s.name !== 's4') as ServerProcess;
  const out = await run(process.execPath, [mainJs, 'raft', 'remove-peer', '--peer-id', 's4', '--address', follower.url]);
  t.match(out.stdout, 'removed s4');
  const peers = (await call(leader.url, 'GET', '/v1/raft/peers')).body as { id: string }[];
  t.same(peers.map((p) => p.id).sort(), ['s1', 's2', 's3']);
  await s4.kill9();
});

t.test('leave: the leader hands leadership over, removes itself and stops', async (t) => {
  // A fifth server first, so that three remain when the leader has left.
  const first = await agreedLeader(live());
  const [spec5] = await serverSpecs(root.path, ['s5']);
  if (!spec5) throw new Error('no spec');
  const s5 = await startServerProcess({ ...spec5, args: ['--join', first.rpcAddr] });
  servers.set('s5', s5);
  await until('s5 to be a voter', async () => {
    const peers = (await call(first.url, 'GET', '/v1/raft/peers')).body as { id: string; voter: boolean }[];
    return peers.some((p) => p.id === 's5' && p.voter) ? true : undefined;
  });
  const leader = await agreedLeader(live());
  const out = await run(process.execPath, [mainJs, 'leave', '--address', leader.url]);
  t.match(out.stdout, leader.name);
  t.equal(await leader.exited(), 0, 'the server that left stopped cleanly');
  servers.delete(leader.name);
  const next = await agreedLeader(live());
  t.not(next.name, leader.name, 'another server leads');
  const peers = (await call(next.url, 'GET', '/v1/raft/peers')).body as { id: string }[];
  t.notOk(peers.some((p) => p.id === leader.name), 'the server that left is no longer a peer');
  t.equal(peers.length, 3);
  const created = await call(next.url, 'POST', '/v1/jobs', { name: 'after-leave', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });
  t.equal(created.status, 201, 'the cluster still takes writes');
});

t.test('a server back from its data dir at new addresses (a new pod IP) tells the cluster and catches up', async (t) => {
  const leader = await agreedLeader(live());
  const mover = live().find((s) => s.name !== leader.name) as ServerProcess;
  const spec = specs.find((s) => s.name === mover.name) ?? (() => { throw new Error('no spec'); })();
  await mover.kill9();
  servers.delete(mover.name);
  const [fresh] = await serverSpecs(root.path, ['moved']);
  if (!fresh) throw new Error('no spec');
  const others = live().map((s) => s.rpcAddr);
  const moved = await startServerProcess({ ...spec, rpcAddr: fresh.rpcAddr, httpAddr: fresh.httpAddr, args: others.flatMap((a) => ['--join', a]) });
  servers.set(moved.name, moved);
  await until('the cluster to know the new address', async () => {
    const peers = (await call(leader.url, 'GET', '/v1/raft/peers')).body as { id: string; rpc_addr: string }[];
    return peers.some((p) => p.id === moved.name && p.rpc_addr === moved.rpcAddr) ? true : undefined;
  });
  const created = await call(leader.url, 'POST', '/v1/jobs', { name: 'after-move', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });
  t.equal(created.status, 201);
  await until('the moved server to have the new job', async () => {
    const r = await call(moved.url, 'GET', '/v1/jobs/after-move?stale');
    return r.status === 200 ? true : undefined;
  });
  t.match(moved.log(), /telling it the new address/);
  const viaMoved = await call(moved.url, 'POST', '/v1/jobs', { name: 'through-moved', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });
  t.equal(viaMoved.status, 201, 'a write through the moved server reaches the leader');
});
