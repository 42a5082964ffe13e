// Failover of a real 3-server cluster (three `clocktower agent --server`
// processes on loopback): kill -9 the leader while a job fires every second,
// and measure the time to the new leader (all survivors agree) and to the
// first on-time fire on the new leader (a fire that started within 250 ms of
// its scheduled second, scheduled after the kill). The killed server is
// restarted between runs. The election timeout (1-2 s at --raft-multiplier 1)
// is the baseline the figures are divided by.

import { rmSync } from 'node:fs';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../test/support/cluster-processes.js';
import { call, tempDir, type ExecutionJson } from '../test/support/light-process.js';
import { isMain, median, round, summarize } from './stats.js';

const runs = Number(process.env['BENCH_FAILOVER_RUNS'] ?? 10);
/** The randomized election timeout's range at --raft-multiplier 1 (10-20 ticks of 100 ms). */
const electionTimeoutMs = { min: 1000, max: 2000 };
const onTimeMs = 250;

async function poll<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const root = tempDir('ct-bench-failover-');
  const specs = await serverSpecs(root.path, ['b1', 'b2', 'b3']);
  const servers = new Map<string, ServerProcess>();
  for (const s of await Promise.all(specs.map((spec) => startServerProcess(spec)))) servers.set(s.name, s);
  const toLeader: number[] = [];
  const toFire: number[] = [];
  try {
    let leader = await agreedLeader([...servers.values()]);
    const created = await call(leader.url, 'POST', '/v1/jobs', { name: 'beat', schedule: '@every 1s', executor: 'shell', executor_config: { command: 'true' } });
    if (created.status !== 201) throw new Error(`bench: could not create the job: ${JSON.stringify(created.body)}`);
    for (let i = 0; i < runs; i++) {
      // Let the job fire on this leader first.
      await poll('a fire on the leader', async () => {
        const list = (await call(leader.url, 'GET', '/v1/jobs/beat/executions?stale')).body as ExecutionJson[];
        return list.some((e) => e.node_name === leader.name) ? true : undefined;
      });
      const killedAt = Date.now();
      const killed = leader;
      await killed.kill9();
      servers.delete(killed.name);
      const survivors = [...servers.values()];
      leader = await agreedLeader(survivors, 30_000);
      toLeader.push(Date.now() - killedAt);
      const fire = await poll('an on-time fire on the new leader', async () => {
        const list = (await call(leader.url, 'GET', '/v1/jobs/beat/executions?stale')).body as ExecutionJson[];
        const onTime = list
          .filter((e) => e.node_name === leader.name && e.started_at !== null && Date.parse(e.scheduled_at) > killedAt)
          .map((e) => ({ scheduled: Date.parse(e.scheduled_at), started: Date.parse(e.started_at as string) }))
          .filter((e) => e.started - e.scheduled <= onTimeMs)
          .sort((a, b) => a.started - b.started);
        return onTime[0];
      });
      toFire.push(fire.started - killedAt);
      const spec = specs.find((s) => s.name === killed.name);
      if (!spec) throw new Error('bench: lost a server spec');
      servers.set(killed.name, await startServerProcess(spec));
      leader = await agreedLeader([...servers.values()]);
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.kill9()));
    rmSync(root.path, { recursive: true, force: true });
  }
  const fire = summarize(toFire);
  return {
    bench: 'cluster-failover',
    servers: 3,
    runs,
    election_timeout_ms: electionTimeoutMs,
    to_new_leader_median_ms: round(median(toLeader)),
    to_first_on_time_fire_median_ms: round(fire.p50),
    to_first_on_time_fire_min_ms: round(fire.min),
    to_first_on_time_fire_max_ms: round(fire.max),
    fire_over_max_election_timeout: round(fire.p50 / electionTimeoutMs.max),
  };
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
