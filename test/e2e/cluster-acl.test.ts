// ACLs on a real 3-server cluster: bootstrap through a follower, tokens
// created on the leader and used at once on a follower, and writes a
// follower forwards to the leader with the caller's own identity: a
// read-level token's write is refused (403), a write token's write is
// stored and recorded with its accessor, on every server.
import t from 'tap';
import { call, tempDir, until } from '../support/light-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';

const root = tempDir('ct-cluster-acl-');
const specs = await serverSpecs(root.path, ['a1', 'a2', 'a3']);
const servers: ServerProcess[] = await Promise.all(specs.map((s) => startServerProcess(s)));
t.teardown(async () => {
  for (const s of servers) await s.kill9().catch(() => {});
  root.remove();
});

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
const job = (name: string) => ({ name, schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });

t.test('a follower forwards writes with the caller\'s identity', async (t) => {
  const leader = await agreedLeader(servers);
  const [f1, f2] = servers.filter((s) => s !== leader) as [ServerProcess, ServerProcess];

  const boot = await call(f1.url, 'POST', '/v1/acl/bootstrap');
  t.equal(boot.status, 201, `bootstrap through a follower${boot.status === 201 ? '' : `: ${boot.text}`}`);
  const root = (boot.body as { secret: string }).secret;
  const again = await call(f2.url, 'POST', '/v1/acl/bootstrap');
  t.equal(again.status, 409, 'a second bootstrap, on another server, is refused');
  t.match(again.body, { error: { code: 'CT_STATE_ACL_BOOTSTRAPPED' } });

  for (const [name, jobs] of [['readers', { '': 'read' }], ['writers', { 'team-': 'write' }]] as const) {
    const p = await call(f2.url, 'PUT', `/v1/acl/policies/${name}`, { jobs }, bearer(root));
    t.equal(p.status, 200, p.text);
  }
  const mint = async (policy: string) => {
    // On the leader; used right away on followers, which catch up before refusing a token they do not know.
    const r = await call(leader.url, 'POST', '/v1/acl/tokens', { policies: [policy] }, bearer(root));
    t.equal(r.status, 201, r.status === 201 ? `a ${policy} token` : r.text);
    return r.body as { secret: string; accessor: string };
  };
  const reader = await mint('readers');
  const writer = await mint('writers');

  t.equal((await call(f1.url, 'POST', '/v1/jobs', job('team-x'))).status, 401, 'no token: refused on the follower');
  const denied = await call(f1.url, 'POST', '/v1/jobs', job('team-x'), bearer(reader.secret));
  t.equal(denied.status, 403, `a read token's write through a follower: ${denied.text}`);
  t.match(denied.body, { error: { code: 'CT_API_FORBIDDEN', message: /needs write on job 'team-x'/ } });

  const created = await call(f1.url, 'POST', '/v1/jobs', job('team-x'), bearer(writer.secret));
  t.equal(created.status, 201, `a write token's write through a follower: ${created.text}`);
  for (const s of servers) {
    const v = await call(s.url, 'GET', '/v1/jobs/team-x/versions', undefined, bearer(reader.secret));
    t.equal(v.status, 200, `${s.name} has it`);
    t.equal((v.body as { by: string }[])[0]?.by, writer.accessor, `${s.name} records the writer's accessor`);
  }
  t.equal((await call(f2.url, 'POST', '/v1/jobs', job('other'), bearer(writer.secret))).status, 403, 'outside its prefix: refused');
  t.equal((await call(f2.url, 'DELETE', '/v1/jobs/team-x', undefined, bearer(reader.secret))).status, 403);
  t.equal((await call(f2.url, 'POST', '/v1/jobs/team-x/run', undefined, bearer(reader.secret))).status, 403);

  // A token deleted on the leader is refused everywhere once the servers have applied it.
  t.equal((await call(f2.url, 'DELETE', `/v1/acl/tokens/${writer.accessor}`, undefined, bearer(root))).status, 200);
  for (const s of servers) {
    await until(`${s.name} to refuse the deleted token`, async () => {
      const r = await call(s.url, 'GET', '/v1/jobs/team-x', undefined, bearer(writer.secret));
      return r.status === 401 ? true : undefined;
    });
  }
  t.equal((await call(f1.url, 'POST', '/v1/jobs', job('team-y'), bearer(writer.secret))).status, 401);
  t.equal((await call(f1.url, 'GET', '/health')).status, 200, '/health stays open');
});
