// snapshotSlices(): the state at the call, serialised one slice per step,
// while commands go on applying between the steps.

import t from 'tap';
import { CommandType, decodeCommand, encodeCommand, type Command } from '../../../server/state/commands.js';
import { jobSpec } from '../../support/job-spec.js';
import { StateMachine } from '../../../server/state/state-machine.js';

const spec = jobSpec;

/** Drains the slices, giving the event loop a turn between two (as the Raft driver does); counts them. */
async function drain(slices: Iterator<void, Uint8Array>): Promise<{ data: Uint8Array; steps: number }> {
  for (let steps = 1; ; steps++) {
    const step = slices.next();
    if (step.done === true) return { data: step.value, steps };
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

class Harness {
  readonly sm = new StateMachine({ historyLimit: 50 });
  private index = 0;
  ok(c: Command): void {
    const r = this.sm.apply(decodeCommand(encodeCommand(c)), ++this.index);
    if (!r.ok) throw r.error;
  }

  /** `jobs` jobs with `runs` finished executions each (outputs with multi-byte text), and a few versions. */
  fill(jobs: number, runs: number, from = 0): void {
    const names = Array.from({ length: jobs }, (_, i) => `job-${from + i}`);
    this.ok({ type: CommandType.PutJobs, atMs: 1000, jobs: names.map((n) => spec(n)) });
    this.ok({ type: CommandType.PutJob, atMs: 1500, job: spec(names[0] ?? '', { displayName: 'edited' }) });
    for (let r = 0; r < runs; r++) {
      const at = 2000 + r * 1000;
      this.ok({
        type: CommandType.RecordFires, atMs: at,
        fires: names.map((jobName) => ({ jobName, scheduledAtMs: at, trigger: 'schedule' as const, nodes: ['n1'] })), skips: [],
        lastScheduled: names.map((jobName) => ({ jobName, atMs: at })),
      });
      const ids = names.flatMap((n) => (this.sm.executionsOf(n) ?? []).filter((e) => e.finishedAtMs === null).map((e) => e.id));
      this.ok({
        type: CommandType.FinishExecutions, atMs: at + 500,
        results: ids.map((id) => ({ id, finishedAtMs: at + 500, state: 'succeeded' as const, output: `ran ${id} ✓\n`, outputTruncated: false, exitCode: 0, error: '' })),
      });
    }
  }
}

t.test('the slices give the same bytes as snapshot(), and they restore the same state', async (t) => {
  const h = new Harness();
  h.fill(30, 4);
  const sync = h.sm.snapshot();
  const { data: async } = await drain(h.sm.snapshotSlices());
  t.same(Buffer.from(async), Buffer.from(sync));
  const copy = new StateMachine({ historyLimit: 50 });
  copy.restore(async);
  t.same(Buffer.from(copy.snapshot()), Buffer.from(sync), 'restored, it snapshots to the same bytes');
  t.equal(copy.executionsOf('job-3')?.length, 4);
  t.match(copy.executionsOf('job-3')?.[0]?.output, /^ran \S+ ✓\n$/, 'outputs (multi-byte) survive');
  t.equal(copy.job('job-0')?.displayName, 'edited');
});

t.test('commands applied while it serialises are not in it: it is the state at the call', async (t) => {
  const h = new Harness();
  h.fill(200, 20);
  const before = h.sm.snapshot();
  const slices = h.sm.snapshotSlices();
  t.equal(slices.next().done, false, 'a first slice');
  // Between two slices, more jobs and runs land.
  h.fill(50, 3, 1000);
  h.ok({ type: CommandType.DeleteJob, atMs: 9000, name: 'job-7' });
  const { data } = await drain(slices);
  t.same(Buffer.from(data), Buffer.from(before));
  const copy = new StateMachine({ historyLimit: 50 });
  copy.restore(data);
  t.ok(copy.job('job-7'), 'the job deleted after the call is in it');
  t.notOk(copy.job('job-1000'), 'a job created after the call is not');
  t.ok(h.sm.job('job-1000') && !h.sm.job('job-7'), 'while the live state has both changes');
});

t.test('a big state is serialised in many slices, a small one in few', async (t) => {
  const big = new Harness();
  big.fill(500, 10);
  const { steps } = await drain(big.sm.snapshotSlices());
  t.ok(steps >= 3, `5,000 executions in ${steps} slices`);
  const small = new Harness();
  small.fill(3, 2);
  t.ok((await drain(small.sm.snapshotSlices())).steps <= 3, 'a few jobs in one slice and the framing');
});
