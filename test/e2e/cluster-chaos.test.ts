// A Jepsen-style run on three real server processes: for about 40 seconds,
// partitions that change every few seconds (a fault proxy in front of each
// server's Raft port), kill -9 and restart, and SIGSTOP of the leader past
// its lease, while three clients read and write jobs through any server and
// 20 jobs fire every second. At the end the clients' history is checked for
// linearizability with the simulation's checker, and no scheduled second
// ran twice. The run is seeded (CT_CHAOS_SEED) so its fault schedule replays;
// CT_CHAOS_SECONDS makes it longer.

import t from 'tap';
import { request } from 'undici';
import { call, executions, tempDir, until } from '../support/light-process.js';
import { agreedLeader, proxiedServerSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';
import { checkKvLinearizable, describe, type Operation } from '../sim/linearizability.js';
import { prng } from '../sim/prng.js';

const seed = Number(process.env['CT_CHAOS_SEED'] ?? 7);
const seconds = Number(process.env['CT_CHAOS_SECONDS'] ?? 40);
const random = prng(seed);

const root = tempDir('ct-chaos-');
const names = ['j1', 'j2', 'j3'];
const proxied = await proxiedServerSpecs(root.path, names);
const { proxies } = proxied;
const specs = new Map(proxied.specs.map((s) => [s.name, s]));
const servers = new Map<string, ServerProcess>();
for (const s of await Promise.all([...specs.values()].map((s) => startServerProcess(s)))) servers.set(s.name, s);
const stopped = new Set<string>();
t.teardown(async () => {
  for (const s of servers.values()) {
    if (stopped.has(s.name)) s.child.kill('SIGCONT');
    await s.kill9().catch(() => {});
  }
  for (const p of proxies.values()) await p.close();
  root.remove();
});

/** Microseconds since the run began: the history's clock. */
const began = performance.now();
const now = () => Math.round((performance.now() - began) * 1000);

const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
const history: Operation[] = [];
const chaosLog: string[] = [];

async function client(id: number, endAt: number): Promise<void> {
  let seq = 0;
  while (Date.now() < endAt) {
    const server = random.pick(names);
    const url = `http://${specs.get(server)?.httpAddr ?? ''}`;
    const key = random.pick(keys);
    const callAt = now();
    if (random.chance(0.5)) {
      const value = `c${id}.${++seq}`;
      let ret: number | null = null;
      try {
        const res = await request(`${url}/v1/jobs`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, headersTimeout: 4000, bodyTimeout: 4000,
          body: JSON.stringify({ name: key, schedule: '@manually', executor: 'shell', executor_config: { command: 'true' }, metadata: { v: value } }),
        });
        await res.body.text();
        if (res.statusCode === 200 || res.statusCode === 201) ret = now();
      } catch {
        // unknown outcome: it may have happened
      }
      // A write that failed or timed out may still have happened: outcome unknown.
      history.push({ client: id, input: { kind: 'put', key, value }, call: callAt, ret, output: ret === null ? null : {} });
    } else {
      try {
        const res = await request(`${url}/v1/jobs/${key}`, { headersTimeout: 4000, bodyTimeout: 4000 });
        const body = await res.body.text();
        const retAt = now();
        if (res.statusCode === 200) {
          const v = (JSON.parse(body) as { metadata?: Record<string, string> }).metadata?.['v'] ?? '';
          history.push({ client: id, input: { kind: 'get', key }, call: callAt, ret: retAt, output: { value: v } });
        } else if (res.statusCode === 404) {
          history.push({ client: id, input: { kind: 'get', key }, call: callAt, ret: retAt, output: { value: '' } });
        }
        // any other answer: a read that did not happen constrains nothing
      } catch {
        // timed out: nothing observed
      }
    }
  }
}

async function restart(name: string): Promise<void> {
  const spec = specs.get(name);
  if (!spec) return;
  servers.set(name, await startServerProcess(spec));
}

async function leaderName(): Promise<string | null> {
  for (const name of names) {
    if (stopped.has(name)) continue;
    const a = await call(`http://${specs.get(name)?.httpAddr ?? ''}`, 'GET', '/v1/leader').catch(() => null);
    if (a?.status === 200) return (a.body as { Name: string }).Name;
  }
  return null;
}

async function chaos(endAt: number): Promise<void> {
  while (Date.now() < endAt - 3000) {
    const action = random.pick(['partition', 'partition', 'kill', 'pause-leader', 'calm']);
    const victim = action === 'pause-leader' ? (await leaderName()) ?? random.pick(names) : random.pick(names);
    chaosLog.push(`${((performance.now() - began) / 1000).toFixed(1)}s ${action} ${victim}`);
    const server = servers.get(victim);
    if (action === 'partition') {
      proxies.get(victim)?.block();
      await waitMs(2000 + random.int(2000));
      proxies.get(victim)?.unblock();
    } else if (action === 'kill' && server) {
      await server.kill9();
      await waitMs(500 + random.int(1500));
      await restart(victim);
    } else if (action === 'pause-leader' && server) {
      // Past its lease (election timeout ~1 s): the others elect a new leader meanwhile.
      server.child.kill('SIGSTOP');
      stopped.add(victim);
      await waitMs(2500 + random.int(1500));
      server.child.kill('SIGCONT');
      stopped.delete(victim);
    } else {
      await waitMs(1000 + random.int(2000));
    }
  }
}

/** The fault schedule's own pacing (not a wait for a condition). */
function waitMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

t.test(`chaos: ${seconds} s of partitions, kill -9 and paused leaders (seed ${seed})`, async (t) => {
  const first = await agreedLeader([...servers.values()], 30_000);
  const fired = Array.from({ length: 20 }, (_, i) => `fire-${i}`);
  for (const name of fired) {
    const a = await call(first.url, 'POST', '/v1/jobs', { name, schedule: '@every 1s', executor: 'shell', executor_config: { command: 'true' } });
    t.equal(a.status, 201, `${name} created`);
  }
  const endAt = Date.now() + seconds * 1000;
  await Promise.all([client(1, endAt), client(2, endAt), client(3, endAt), chaos(endAt)]);
  t.comment(`faults: ${chaosLog.join('; ')}`);

  // Everything back: every server up, no partition, one leader.
  for (const p of proxies.values()) p.unblock();
  for (const name of names) {
    if (servers.get(name)?.child.exitCode !== null) await restart(name);
  }
  const leader = await agreedLeader([...servers.values()], 60_000);

  const completed = history.filter((o) => o.ret !== null).length;
  // How many complete depends on the machine's speed; the check needs some to mean anything.
  t.ok(completed > 0, `the clients got answers (${completed} of ${history.length} operations completed)`);
  const check = checkKvLinearizable(history);
  if (!check.ok) t.comment(history.filter((o) => check.explanation?.includes(JSON.stringify(o.input.key)) ?? true).slice(-300).map(describe).join('\n'));
  t.ok(check.ok, `the history is linearizable${check.ok ? '' : `: ${check.explanation ?? ''}`}`);

  for (const name of fired) {
    const list = await until(`${name}: executions`, async () => {
      const l = await executions(leader.url, name).catch(() => null);
      return l ?? undefined;
    });
    const secondsRun = list.filter((e) => e.trigger === 'schedule').map((e) => e.scheduled_at);
    const twice = secondsRun.filter((s, i) => secondsRun.indexOf(s) !== i);
    t.same(twice, [], `${name}: no scheduled second ran twice (${secondsRun.length} fires)`);
  }
});
