// The leader's agent host alone, in process, on a burst: N jobs
// (BENCH_AGENT_HOST_JOBS, default 10,000) chosen in one planning pass
// (forFire), executed (assigned over a link that accepts batches), their
// results received in AgentBatches of 1,000, then committed in one
// FinishExecutions, which acknowledges each. The state machine is real; the
// link only counts what it is given. Figures are CPU milliseconds of this
// process per phase (process.cpuUsage, so other load on the machine weighs
// less than on wall time), medians of BENCH_AGENT_HOST_ROUNDS (default 15).

import { AgentExecutorHost } from '../server/dispatch/agent-executor-host.js';
import type { AgentSession } from '../server/dispatch/agent-registry.js';
import type { RunOutcome } from '../server/dispatch/executor-host.js';
import { CommandType, type Command } from '../server/state/commands.js';
import { StateMachine } from '../server/state/state-machine.js';
import type { Result__Output } from '../proto/generated/clocktower/agent/v1/Result.js';
import type { Register__Output } from '../proto/generated/clocktower/agent/v1/Register.js';
import { jobSpec } from '../test/support/job-spec.js';
import { isMain, median, round } from './stats.js';

const jobs = Number(process.env['BENCH_AGENT_HOST_JOBS'] ?? 10_000);
const rounds = Number(process.env['BENCH_AGENT_HOST_ROUNDS'] ?? 15);

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Round { forFire: number; executeToResults: number; applyAndAck: number; messagesOut: number }

function registration(node: string, tags: Record<string, string>): Register__Output {
  return { node, instance: node, tags, executors: ['noop'], capacity: 1000, version: '', running: [], accepts_batches: true, secret_keys: [] } as unknown as Register__Output;
}

async function burst(): Promise<Round> {
  const state = new StateMachine({ historyLimit: 10 });
  let index = 0;
  const apply = (c: Command) => {
    const r = state.apply(c, ++index);
    if (!r.ok) throw r.error;
    return r;
  };
  for (let i = 0; i < jobs; i++) apply({ type: CommandType.PutJob, atMs: 1, job: jobSpec(`j${i}`, { executor: 'noop', tags: { role: 'burst' } }) });
  const host = new AgentExecutorHost({ state, now: Date.now, selfNode: 'leader', heartbeatTimeoutMs: 60_000, outputLimit: 1000, servers: () => [] });
  let messagesOut = 0;
  const r = host.register(registration('burst', { role: 'burst' }), { send: () => { messagesOut++; }, close: () => {} });
  if ('error' in r) throw new Error(r.error);
  const session: AgentSession = r.session;
  host.register(registration('leader', {}), { send: () => {}, close: () => {} });
  await turn();
  const list = Array.from({ length: jobs }, (_, i) => state.job(`j${i}`)).filter((j) => j !== undefined);

  const t0 = cpuMs();
  const nodes = list.map((j) => host.forFire(j)[0] ?? '');
  const t1 = cpuMs();
  const fires = list.map((j, i) => ({ jobName: j.name, scheduledAtMs: 1000, trigger: 'schedule' as const, nodes: [nodes[i] ?? ''] }));
  const executions = apply({ type: CommandType.RecordFires, atMs: 1000, fires, skips: [], lastScheduled: [] }).executions;
  const sink = { write: () => {} };
  const t2 = cpuMs();
  const done: Promise<RunOutcome>[] = executions.map((e) => host.execute('noop', { jobName: e.jobName, config: {}, executionId: e.id, scheduledAtMs: e.scheduledAtMs, attempt: e.attempt }, sink, new AbortController().signal));
  await turn();
  for (let i = 0; i < executions.length; i += 1000) {
    const results = executions.slice(i, i + 1000).map((e) => ({
      execution_id: e.id, success: true, exit_code: 0, error: '', output_tail: Buffer.alloc(0), output_total_bytes: '0', unknown: false, params_out: {},
    }) as unknown as Result__Output);
    host.receive(session, { msg: 'batch', batch: { outputs: [], results } });
  }
  await Promise.all(done);
  const t3 = cpuMs();
  apply({
    type: CommandType.FinishExecutions, atMs: 2000,
    results: executions.map((e) => ({ id: e.id, finishedAtMs: 2000, state: 'succeeded' as const, output: '', outputTruncated: false, exitCode: 0, error: '' })),
  });
  await turn();
  const t4 = cpuMs();
  host.close();
  return { forFire: t1 - t0, executeToResults: t3 - t2, applyAndAck: t4 - t3, messagesOut };
}

export async function run(): Promise<Record<string, unknown>> {
  const all: Round[] = [];
  for (let i = 0; i < rounds; i++) all.push(await burst());
  const med = (k: keyof Round) => round(median(all.map((x) => x[k])));
  return {
    bench: 'agent-host', jobs, rounds,
    cpu_ms: { for_fire_one_pass: med('forFire'), execute_to_results: med('executeToResults'), apply_and_ack: med('applyAndAck') },
    cpu_us_per_execution: round((1000 * (med('forFire') + med('executeToResults') + med('applyAndAck'))) / jobs),
    messages_out: med('messagesOut'),
  };
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
