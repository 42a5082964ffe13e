// An agent cut off by a half-open link (a proxy that goes silent without
// closing anything): the server hears no heartbeat and, at the deadline,
// records the execution lost; the agent hears nothing back and reconnects
// once the link works again, and is then told to stop the execution that
// was settled without it. The server advertises the proxy, so the agent
// knows no other way in.
import t from 'tap';
import { call, executions, tempDir, until } from '../support/light-process.js';
import { serverSpecs, startServerProcess } from '../support/cluster-processes.js';
import { startAgentProcess } from '../support/agent-process.js';
import { startFaultProxy } from '../support/fault-proxy.js';

const root = tempDir('ct-agents-cutoff-');
const [spec] = await serverSpecs(root.path, ['c1']);
if (!spec) throw new Error('no spec');
const proxy = await startFaultProxy(spec.rpcAddr, { mode: 'blackhole' });
const server = await startServerProcess(spec, ['--advertise-rpc-addr', proxy.address, '--agent-timeout', '3s']);
const agent = await startAgentProcess('a1', [proxy.address], { zone: 'c' });
let pid = 0;
t.teardown(async () => {
  await agent.kill9().catch(() => {});
  await server.kill9().catch(() => {});
  await proxy.close();
  if (pid > 0) try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  root.remove();
});

function alive(p: number): boolean {
  try {
    process.kill(p, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('silent link: lost at the heartbeat deadline; after the reconnect the agent stops it', async (t) => {
  const job = { name: 'cut', schedule: '@manually', executor: 'shell', tags: { zone: 'c' }, executor_config: { shell: 'true', command: 'echo pid=$$; exec sleep 30' } };
  t.equal((await call(server.url, 'POST', '/v1/jobs', job)).status, 201);
  t.ok((await call(server.url, 'POST', '/v1/jobs/cut/run')).status < 300);
  const running = await until('it to run on a1', async () => (await executions(server.url, 'cut')).find((e) => e.state === 'running' && /pid=\d+/.test(e.output)));
  pid = Number(/pid=(\d+)/.exec(running.output)?.[1]);
  const registered = (agent.log().match(/registered with the leader/g) ?? []).length;
  proxy.freeze();
  const frozenAt = Date.now();
  const lost = await until('the execution to be lost', async () => {
    const e = (await executions(server.url, 'cut')).find((x) => x.id === running.id);
    return e?.state === 'lost' ? e : undefined;
  });
  t.match(lost.error, /agent a1 sent no heartbeat for 3000 ms while this execution ran/);
  t.ok(Date.parse(lost.finished_at ?? '') - frozenAt >= 2500, 'not before the deadline');
  t.ok(alive(pid), 'the cut-off agent still runs it');
  await agent.waitLog(/nothing from .* reconnecting/);
  proxy.unblock();
  await until('a1 to register again', async () => ((agent.log().match(/registered with the leader/g) ?? []).length > registered ? true : undefined));
  await until('the agent to stop the settled execution', async () => (alive(pid) ? undefined : true));
  const after = (await executions(server.url, 'cut')).find((x) => x.id === running.id);
  t.equal(after?.state, 'lost', 'its late result changes nothing');
  t.equal((await executions(server.url, 'cut')).length, 1);
});
