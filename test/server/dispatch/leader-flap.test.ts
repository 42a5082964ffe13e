// A leader flap while a job with processors runs on an agent. Stepping down
// gives up what waits for agents (release()); if the same server leads again
// while the processors of such a given-up run are still going, the run must
// not be committed as `lost`: the agent still runs it, the new term must
// reattach to it, and its real result is what is recorded (a stale `lost`
// would also start a retry: the job would run twice).
//
// Real dispatcher, agent host, state machine, agent runner and shell
// executor over the in-process agent link; the execution waits at a gate (a
// flock the test holds) so the flap happens while it runs.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dispatcher } from '../../../server/dispatch/dispatcher.js';
import { AgentExecutorHost } from '../../../server/dispatch/agent-executor-host.js';
import type { ProcessedExecution, ProcessorHost } from '../../../server/dispatch/processor-host.js';
import { CommandType, type Command } from '../../../server/state/commands.js';
import { defaultCatchUp, type JobSpec } from '../../../server/state/job.js';
import { StateMachine, type ApplyResult } from '../../../server/state/state-machine.js';
import { AgentRunner } from '../../../agent/agent-runner.js';
import { ExecutorRegistry } from '../../../plugins/sdk/executor-registry.js';
import { ShellExecutor } from '../../../plugins/executors/shell/shell-executor.js';
import { LocalAgentLink } from '../../../bin/local-agent-link.js';
import { until } from '../../support/light-process.js';

const dir = mkdtempSync(join(tmpdir(), 'ct-flap-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function holdGate(gate: string): Promise<() => void> {
  const holder = spawn('flock', ['--exclusive', gate, '-c', 'echo held; cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => { holder.kill('SIGKILL'); });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (d: Buffer) => { if (d.toString().includes('held')) resolve(); });
    holder.once('exit', (code) => reject(new Error(`flock exited with ${String(code)} before it held the gate`)));
  });
  return () => holder.stdin.end();
}

t.test('re-elected while the processors of a given-up run still go: no stale lost, the real result is recorded once', async (t) => {
  const gate = join(dir, 'gate');
  const openGate = await holdGate(gate);
  const state = new StateMachine();
  let index = 0;
  const log = { submit: async (c: Command): Promise<ApplyResult> => state.apply(c, ++index) };
  const host = new AgentExecutorHost({ state, now: Date.now, selfNode: 'a1', heartbeatTimeoutMs: 60_000, outputLimit: 1000, servers: () => [] });
  t.teardown(() => host.close());
  // The processor holds every execution until the test lets it go.
  let held = 0;
  let letGo: () => void = () => {};
  const processorsMayGo = new Promise<void>((r) => { letGo = r; });
  const processors: ProcessorHost = {
    process: async (_name, e: ProcessedExecution) => { held++; await processorsMayGo; return e; },
    validate: () => null,
    processors: () => ['hold'],
  };
  const dispatcher = new Dispatcher({ nodeName: 'a1', state, log, host, chooser: host, processors, now: Date.now, outputLimit: 1000 });
  const agent = new AgentRunner({ node: 'a1', tags: {}, executors: new ExecutorRegistry([new ShellExecutor()]), capacity: 2 });
  const link = new LocalAgentLink(agent, host, () => {});
  t.teardown(() => { dispatcher.stopLeading(); link.disconnect(); });
  const job: JobSpec = {
    name: 'j', displayName: '', timezone: '', schedule: '@manually', owner: '', ownerEmail: '', disabled: false,
    tags: {}, metadata: {}, retries: 1, parentJob: '', processors: { hold: { forward: 'true' } }, concurrency: 'allow', executor: 'shell',
    executorConfig: { shell: 'true', command: `flock --shared ${gate} true && echo real` }, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp,
  };
  state.apply({ type: CommandType.PutJob, atMs: 1, job }, ++index);

  // Leading: the own agent attached, the job runs on it and waits at the gate.
  link.connect();
  dispatcher.startLeading();
  const fired = await dispatcher.runNow('j');
  if (!fired.ok) throw new Error('not fired');
  const [e] = fired.executions;
  if (!e) throw new Error('no execution');
  await until('the agent to run it', async () => (agent.load.running === 1 ? true : undefined));

  // Stepping down, as bin/server.ts does on losing leadership.
  dispatcher.stopLeading();
  host.release('');
  link.disconnect();
  await until('the given-up run to reach its processors or be dropped', async () => (held > 0 || dispatcher.busy().length === 0 ? true : undefined));

  // Leading again (the same server won the next election) while those processors still run.
  link.connect();
  dispatcher.startLeading();
  letGo();
  openGate();
  const done = await until('the execution to finish', async () => {
    const x = state.execution(e.id);
    return x && x.state !== 'running' ? x : undefined;
  });
  t.equal(done.state, 'succeeded', `recorded as ${done.state}: ${done.error}`);
  t.equal(done.output, 'real\n', 'with the output of the run that really happened');
  t.equal(state.executionsOf('j')?.length, 1, 'no retry: the job ran once');
});
