import t from 'tap';
import { Dispatcher } from '../../../server/dispatch/dispatcher.js';
import type { ExecutorHost } from '../../../server/dispatch/executor-host.js';
import { CommandType, type Command, type RecordFires } from '../../../server/state/commands.js';
import { defaultCatchUp, type JobSpec } from '../../../server/state/job.js';
import { StateMachine, type ApplyResult } from '../../../server/state/state-machine.js';

const spec: JobSpec = {
  name: 'tick', displayName: '', timezone: '', schedule: '@every 1s', owner: '', ownerEmail: '', disabled: false,
  tags: {}, metadata: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor: 'noop',
  executorConfig: {}, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp,
};

const host: ExecutorHost = {
  execute: async () => ({ success: true, exitCode: 0, error: '' }),
  executors: () => ['noop'],
};

async function until(what: string, ok: () => boolean, deadlineMs = 10_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

t.test('a job event while its fires are being committed does not fire the same second twice', async (t) => {
  const sm = new StateMachine();
  let index = 0;
  const fired: number[] = [];
  let hold: (() => void) | null = null;
  let held = false;
  const log = {
    async submit(c: Command): Promise<ApplyResult> {
      if (c.type === CommandType.RecordFires) {
        for (const f of (c as RecordFires).fires) if (f.trigger === 'schedule') fired.push(f.scheduledAtMs);
        if (!held) {
          // Hold the first fire uncommitted, as a slow quorum would.
          held = true;
          await new Promise<void>((r) => { hold = r; });
        }
      }
      return sm.apply(c, ++index);
    },
  };
  const now = () => Date.now();
  sm.apply({ type: CommandType.PutJob, atMs: now() - 1500, job: spec }, ++index);
  const d = new Dispatcher({ nodeName: 'n1', state: sm, log, host, now, outputLimit: 1024 });
  d.startLeading();
  await until('the first fire to be submitted', () => hold !== null);
  // A change to the job that keeps its schedule (as a finished execution's counters do) arrives meanwhile.
  sm.apply({ type: CommandType.PutJob, atMs: now(), job: { ...spec, displayName: 'Tick' } }, ++index);
  // Let the dispatcher's timer (re-armed with delay 0 if it planned the job
  // again) run before the first fire commits: timers run in deadline order.
  await new Promise((r) => setTimeout(r, 20));
  (hold as unknown as () => void)();
  await until('three scheduled fires', () => fired.length >= 3);
  await d.shutdown();
  t.equal(new Set(fired).size, fired.length, `each scheduled second fired once: ${fired.join(', ')}`);
});

t.test('a burst of 1,200 fires (one or more commands) is handed to the executor host at most 500 a turn, each once', async (t) => {
  const sm = new StateMachine({ historyLimit: 10 });
  let index = 0;
  const log = { submit: (c: Command): Promise<ApplyResult> => Promise.resolve(sm.apply(c, ++index)) };
  const perTurn: number[] = [];
  let counting = false;
  const started = new Map<string, number>();
  const slicedHost: ExecutorHost = {
    execute: (_executor, request) => {
      if (!counting) {
        counting = true;
        perTurn.push(0);
        setImmediate(() => { counting = false; });
      }
      perTurn[perTurn.length - 1]! += 1;
      started.set(request.executionId, (started.get(request.executionId) ?? 0) + 1);
      return Promise.resolve({ success: true, exitCode: 0, error: '' });
    },
    executors: () => ['noop'],
  };
  const at = new Date(Math.ceil((Date.now() + 100) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const count = 1200;
  sm.apply({ type: CommandType.PutJobs, atMs: Date.now(), jobs: Array.from({ length: count }, (_, i) => ({ ...spec, name: `b${i}`, schedule: `@at ${at}` })) }, ++index);
  const d = new Dispatcher({ nodeName: 'n1', state: sm, log, host: slicedHost, now: () => Date.now(), outputLimit: 1024 });
  d.startLeading();
  await until('every execution to start', () => started.size >= count, 20_000);
  await d.shutdown();
  t.equal([...started.values()].filter((n) => n !== 1).length, 0, 'each started once');
  t.ok(perTurn.length >= 3 && Math.max(...perTurn) <= 500, `in turns of at most 500 (${perTurn.join(', ')})`);
});
