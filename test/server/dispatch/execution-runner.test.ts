// The runner commits results in bounded batches: many results that finish
// while a commit is in flight go out in commands of at most maxBatchBytes
// each (encoded), never one command that grows with their number; one
// result too large for a log entry is cut to fit, never refused.
import t from 'tap';
import { boundResult, ExecutionRunner, maxErrorBytes, maxResultBytes, takeBatch } from '../../../server/dispatch/execution-runner.js';
import type { ExecutorHost, RunOutcome } from '../../../server/dispatch/executor-host.js';
import { CommandType, decodeCommand, encodeCommand, encodedResultBytes, type Command, type ExecutionResult, type FinishExecutions } from '../../../server/state/commands.js';
import { defaultCatchUp, type JobSpec } from '../../../server/state/job.js';
import { StateMachine, type ApplyResult } from '../../../server/state/state-machine.js';

const spec: JobSpec = {
  name: 'loud', displayName: '', timezone: '', schedule: '@manually', owner: '', ownerEmail: '', disabled: false,
  tags: {}, metadata: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor: 'nuls',
  executorConfig: {}, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp,
};

function result(id: string, output: string): ExecutionResult {
  return { id, finishedAtMs: 1, state: 'succeeded', output, outputTruncated: false, exitCode: 0, error: '' };
}

async function until(what: string, ok: () => boolean, deadlineMs = 10_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

t.test('takeBatch takes results in order up to the byte cap, and always one', async (t) => {
  const big = result('1', 'x'.repeat(600));
  const size = encodedResultBytes(big);
  const queue = [big, result('2', 'x'.repeat(600)), result('3', 'x'.repeat(600)), result('4', 'x'.repeat(5000))];
  t.same(takeBatch(queue, 2 * size + 10).map((r) => r.id), ['1', '2'], 'two fit');
  t.same(takeBatch(queue, 10).map((r) => r.id), ['3'], 'one that alone is over the cap still goes, alone');
  t.same(takeBatch(queue, 1 << 20).map((r) => r.id), ['4']);
  t.same(queue, []);
});

t.test('encodedResultBytes is at least what a result adds to an encoded FinishExecutions, and not much more', async (t) => {
  const rs: ExecutionResult[] = [
    result('1', '\u0000'.repeat(1000)), result('22', 'héllo ✓ 😀'), result('333', ''),
    { ...result('4444', 'out'), state: 'failed', exitCode: -2147483648, error: 'boom\u0001 "quoted" ✓\n'.repeat(20), errorCode: 'CT_EXEC_PLUGIN_CRASHED' },
    { ...result('55555', ''), state: 'lost', exitCode: null, finishedAtMs: 8_640_000_000_000_000, error: 'lost: gone', outputTruncated: true },
    { ...result('6', 'x'), paramsOut: { key: 'va"lue\u0002', 'ünï': '😀' } },
  ];
  const empty = encodeCommand({ type: CommandType.FinishExecutions, atMs: 5, results: [] }).length;
  for (const r of rs) {
    const actual = encodeCommand({ type: CommandType.FinishExecutions, atMs: 5, results: [r, r] }).length - empty;
    const estimate = 2 * (encodedResultBytes(r) + 1);
    t.ok(estimate >= actual && estimate <= actual + 2 * 100, `result ${r.id}: estimate ${estimate}, actual ${actual}`);
  }
  const all = encodeCommand({ type: CommandType.FinishExecutions, atMs: 5, results: rs.slice(0, 3) }).length;
  t.ok(all < 1000 + 3 * 200, `1000 NULs cost about 1000 bytes, not 6000 (${all})`);
});

t.test('boundResult cuts a result too large for one entry, from the start of its output and the end of its error', async (t) => {
  const huge = { ...result('1', 'a'.repeat(maxResultBytes + 1000)), error: 'e'.repeat(maxErrorBytes * 2) };
  const b = boundResult(huge);
  t.ok(encodedResultBytes(b) <= maxResultBytes, 'it fits');
  t.equal(Buffer.byteLength(b.error), maxErrorBytes, 'the error keeps its start');
  t.ok(b.outputTruncated, 'marked truncated');
  t.ok(b.output.length > maxResultBytes - maxErrorBytes - 1000, 'as much output as fits is kept');
  const small = result('2', 'ok');
  t.equal(boundResult(small), small, 'a small result is left alone');
});

t.test('200 results of 256 KB of NULs finishing while a commit is in flight go out in commands of at most 1 MiB', async (t) => {
  const sm = new StateMachine();
  let index = 0;
  sm.apply({ type: CommandType.PutJob, atMs: 1, job: spec }, ++index);
  const sizes: number[] = [];
  let hold: (() => void) | null = null;
  let release: Promise<void> | null = null;
  const log = {
    async submit(c: Command): Promise<ApplyResult> {
      const bytes = encodeCommand(c);
      if (c.type === CommandType.FinishExecutions) {
        sizes.push(bytes.length);
        if (release === null) release = new Promise<void>((r) => { hold = r; });
        await release;
      }
      return sm.apply(c, ++index);
    },
  };
  let finishNow: (() => void) | null = null;
  const go = new Promise<void>((r) => { finishNow = r; });
  const nuls = Buffer.alloc(256_000);
  const host: ExecutorHost = {
    execute: async (_executor, _request, output) => {
      await go;
      output.write(nuls);
      return { success: true, exitCode: 0, error: '' };
    },
    executors: () => ['nuls'],
  };
  const runner = new ExecutionRunner({ log, host, now: () => 2, job: (n) => sm.job(n), outputLimit: 256_000, onCreated: () => {}, onError: (err) => t.fail(String(err)) });
  const fired = sm.apply({ type: CommandType.RecordFires, atMs: 2, fires: Array.from({ length: 200 }, (_, i) => ({ jobName: 'loud', scheduledAtMs: i, trigger: 'manual' as const, nodes: ['n1'] })), skips: [], lastScheduled: [] }, ++index);
  if (!fired.ok) throw new Error('fires not applied');
  // The first result's commit is held while the other 199 finish.
  for (const e of fired.executions) runner.run(e);
  (finishNow as unknown as () => void)();
  await until('the first commit to be submitted', () => hold !== null);
  await until('every other result to wait', () => runner.busy().length === 0);
  (hold as unknown as () => void)();
  await runner.shutdown();
  const finished = sm.executionsOf('loud') ?? [];
  t.equal(finished.filter((e) => e.state === 'succeeded' && e.output.length === 256_000).length, 200, 'every result committed, with its output');
  t.equal(sm.activeExecutions().length, 0, 'none left running');
  t.ok(sizes.length >= 50, `split into ${sizes.length} commands`);
  t.ok(sizes.every((s) => s <= 1024 * 1024), `each at most 1 MiB (largest ${Math.max(...sizes)})`);
});

t.test('results settled in one pass (an agent batch of results) go in one command, not the first alone', async (t) => {
  const sm = new StateMachine();
  let index = 0;
  sm.apply({ type: CommandType.PutJob, atMs: 1, job: spec }, ++index);
  const commands: number[] = [];
  const log = {
    submit(c: Command): Promise<ApplyResult> {
      if (c.type === CommandType.FinishExecutions) commands.push(c.results.length);
      return Promise.resolve(sm.apply(c, ++index));
    },
  };
  const settle: (() => void)[] = [];
  const host: ExecutorHost = {
    execute: () => new Promise((resolve) => settle.push(() => resolve({ success: true, exitCode: 0, error: '' }))),
    executors: () => ['nuls'],
  };
  const runner = new ExecutionRunner({ log, host, now: () => 2, job: (n) => sm.job(n), outputLimit: 1000, onCreated: () => {}, onError: (err) => t.fail(String(err)) });
  const fired = sm.apply({ type: CommandType.RecordFires, atMs: 2, fires: Array.from({ length: 50 }, (_, i) => ({ jobName: 'loud', scheduledAtMs: i, trigger: 'manual' as const, nodes: ['n1'] })), skips: [], lastScheduled: [] }, ++index);
  if (!fired.ok) throw new Error('fires not applied');
  for (const e of fired.executions) runner.run(e);
  await until('all 50 sent to the host', () => settle.length === 50);
  // What AgentExecutorHost does with an AgentBatch: every result settled in one synchronous pass.
  for (const s of settle) s();
  await runner.shutdown();
  t.same(commands, [50], 'one FinishExecutions with the 50 results');
  t.equal(sm.activeExecutions().length, 0, 'none left running');
});

t.test('a FinishExecutions command decodes to what was encoded, output byte for byte', async (t) => {
  const outputs = ['\u0000\u0001\u001f', '\ufeffstarts with a BOM', 'plain\n', '', '\ufffd\ufffd', 'ünïcödé 😀'];
  const c: FinishExecutions = { type: CommandType.FinishExecutions, atMs: 9, results: outputs.map((o, i) => ({ ...result(String(i), o), error: `e${i}` })) };
  t.same(decodeCommand(encodeCommand(c)), c);
  const legacy = new TextEncoder().encode(JSON.stringify(c));
  t.same(decodeCommand(legacy), c, 'an entry written as JSON (before the framed form) still decodes');
});

t.test('a log that refuses large commands (etcd with a small --max-request-bytes): batches are split, a lone result loses output until it fits; all are recorded', async (t) => {
  const sm = new StateMachine();
  let index = 0;
  sm.apply({ type: CommandType.PutJob, atMs: 1, job: spec }, ++index);
  const maxBytes = 100_000;
  let refused = 0;
  const committed: number[] = [];
  const log = {
    async submit(c: Command): Promise<ApplyResult> {
      const bytes = encodeCommand(c).length;
      if (bytes > maxBytes) {
        refused++;
        throw Object.assign(new Error('this change is larger than a log entry may be'), { code: 'CT_CLUSTER_ENTRY_TOO_LARGE' });
      }
      if (c.type === CommandType.FinishExecutions) committed.push(bytes);
      return sm.apply(c, ++index);
    },
  };
  // 40 results of 30 KB, and one of 300 KB that fits no command whole.
  const host: ExecutorHost = {
    execute: async (_executor, request, output) => {
      output.write(Buffer.alloc(request.executionId === big ? 300_000 : 30_000, 'o'));
      return { success: true, exitCode: 0, error: '' };
    },
    executors: () => ['nuls'],
  };
  const runner = new ExecutionRunner({ log, host, now: () => 2, job: (n) => sm.job(n), outputLimit: 300_000, onCreated: () => {}, onError: (err) => t.fail(String(err)) });
  const fired = sm.apply({ type: CommandType.RecordFires, atMs: 2, fires: Array.from({ length: 41 }, (_, i) => ({ jobName: 'loud', scheduledAtMs: i, trigger: 'manual' as const, nodes: ['n1'] })), skips: [], lastScheduled: [] }, ++index);
  if (!fired.ok) throw new Error('fires not applied');
  const big = fired.executions[40]?.id;
  for (const e of fired.executions) runner.run(e);
  await until('every result to be committed', () => sm.activeExecutions().length === 0);
  await runner.shutdown();
  const finished = sm.executionsOf('loud') ?? [];
  t.equal(finished.filter((e) => e.state === 'succeeded').length, 41, 'every result recorded');
  t.equal(sm.activeExecutions().length, 0, 'none left running');
  t.ok(refused > 0, `the log refused ${refused} command(s)`);
  const large = finished.find((e) => e.id === big);
  t.ok(large && large.output.length > 0 && large.output.length < 300_000 && large.outputTruncated, `the large one kept the end of its output (${large?.output.length} bytes), marked truncated`);
  t.equal(finished.filter((e) => e.id !== big && e.output.length === 30_000).length, 40, 'the others kept all of theirs');
  t.ok(committed.every((b) => b <= maxBytes));
});

t.test('each result gets its error code: the host\'s own, else CT_EXEC_FAILED, CT_EXEC_AGENT_LOST for a lost run, CT_EXEC_STOPPED for a stop; none on success', async (t) => {
  const sm = new StateMachine();
  let index = 0;
  sm.apply({ type: CommandType.PutJob, atMs: 1, job: spec }, ++index);
  const log = { submit: (c: Command): Promise<ApplyResult> => Promise.resolve(sm.apply(c, ++index)) };
  const outcomes: Record<number, RunOutcome | 'wait'> = {
    0: { success: true, exitCode: 0, error: '' },
    1: { success: false, exitCode: 1, error: 'exit status 1' },
    2: { success: false, exitCode: -1, error: 'timed out', errorCode: 'CT_EXEC_TIMEOUT' },
    3: { success: false, exitCode: -1, error: 'lost: gone', lost: true },
    4: 'wait',
  };
  const host: ExecutorHost = {
    execute: (_executor, request, _output, signal) => {
      const o = outcomes[Number(request.scheduledAtMs)] ?? 'wait';
      if (o !== 'wait') return Promise.resolve(o);
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ success: false, exitCode: -1, error: 'stopped' }), { once: true }));
    },
    executors: () => ['nuls'],
  };
  const runner = new ExecutionRunner({ log, host, now: () => 2, job: (n) => sm.job(n), outputLimit: 1000, onCreated: () => {}, onError: (err) => t.fail(String(err)) });
  const fired = sm.apply({ type: CommandType.RecordFires, atMs: 2, fires: [0, 1, 2, 3, 4].map((i) => ({ jobName: 'loud', scheduledAtMs: i, trigger: 'manual' as const, nodes: ['n1'] })), skips: [], lastScheduled: [] }, ++index);
  if (!fired.ok) throw new Error('fires not applied');
  for (const e of fired.executions) runner.run(e);
  const waiting = fired.executions.find((e) => e.scheduledAtMs === 4);
  await until('four results committed', () => (sm.executionsOf('loud') ?? []).filter((e) => e.finishedAtMs !== null).length === 4);
  runner.stop(waiting?.id ?? '');
  await runner.shutdown();
  const byTime = new Map((sm.executionsOf('loud') ?? []).map((e) => [e.scheduledAtMs, [e.state, e.errorCode]]));
  t.same([0, 1, 2, 3, 4].map((i) => byTime.get(i)), [
    ['succeeded', undefined], ['failed', 'CT_EXEC_FAILED'], ['failed', 'CT_EXEC_TIMEOUT'], ['lost', 'CT_EXEC_AGENT_LOST'], ['stopped', 'CT_EXEC_STOPPED'],
  ]);
});
