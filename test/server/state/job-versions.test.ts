// Every change of a job is a version: who, when (the command's time) and
// what the job became; kept per name up to a limit, across a delete, and
// carried by snapshots.

import t from 'tap';
import { CommandType, decodeCommand, encodeCommand, type Command } from '../../../server/state/commands.js';
import { defaultCatchUp, type JobSpec } from '../../../server/state/job.js';
import { StateMachine } from '../../../server/state/state-machine.js';

function spec(name: string, command: string): JobSpec {
  return {
    name, displayName: '', timezone: '', schedule: '@manually', owner: '', ownerEmail: '', disabled: false,
    tags: {}, metadata: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor: 'shell',
    executorConfig: { command }, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp,
  };
}

function machine(versionLimit?: number) {
  const sm = new StateMachine({ historyLimit: 5, ...(versionLimit === undefined ? {} : { versionLimit }) });
  let index = 0;
  const apply = (c: Command) => {
    const r = sm.apply(decodeCommand(encodeCommand(c)), ++index);
    if (!r.ok) throw r.error;
  };
  return { sm, apply };
}

t.test('create, update, toggle, rollback, delete, create again: each a version', async (t) => {
  const { sm, apply } = machine();
  apply({ type: CommandType.PutJob, atMs: 1000, job: spec('a', 'echo 1'), by: 'acc-1' });
  apply({ type: CommandType.PutJob, atMs: 2000, job: spec('a', 'echo 2'), by: 'acc-2' });
  apply({ type: CommandType.ToggleJob, atMs: 3000, name: 'a', by: 'acc-1' });
  const v1 = sm.versionsOf('a')[0]?.spec;
  if (!v1) throw new Error('no version 1');
  apply({ type: CommandType.PutJob, atMs: 4000, job: v1, by: 'acc-2', restoredFrom: 1 });
  apply({ type: CommandType.DeleteJob, atMs: 5000, name: 'a' });
  apply({ type: CommandType.PutJob, atMs: 6000, job: spec('a', 'echo 3'), by: 'acc-1' });
  t.same(sm.versionsOf('a').map((v) => [v.n, v.atMs, v.by, v.change, v.spec?.executorConfig['command'] ?? null, v.spec?.disabled ?? null, v.restoredFrom ?? null]), [
    [1, 1000, 'acc-1', 'create', 'echo 1', false, null],
    [2, 2000, 'acc-2', 'update', 'echo 2', false, null],
    [3, 3000, 'acc-1', 'toggle', 'echo 2', true, null],
    [4, 4000, 'acc-2', 'restore', 'echo 1', false, 1],
    [5, 5000, 'unknown', 'delete', null, null, null],
    [6, 6000, 'acc-1', 'create', 'echo 3', false, null],
  ]);
  t.equal(sm.job('a')?.executorConfig['command'], 'echo 3');
  t.same(sm.versionsOf('nope'), []);
});

t.test('a failed change records nothing; an import records one version per job', async (t) => {
  const { sm, apply } = machine();
  t.throws(() => apply({ type: CommandType.PutJob, atMs: 1, job: { ...spec('c', 'x'), parentJob: 'ghost' }, by: 'z' }));
  t.same(sm.versionsOf('c'), []);
  apply({ type: CommandType.PutJobs, atMs: 7, jobs: [spec('p', 'x'), { ...spec('q', 'y'), parentJob: 'p' }], by: 'imp' });
  t.same([...sm.versionsOf('p'), ...sm.versionsOf('q')].map((v) => [v.n, v.change, v.by]), [[1, 'import', 'imp'], [1, 'import', 'imp']]);
});

t.test('the oldest versions go past the limit; numbers are never reused', async (t) => {
  const { sm, apply } = machine(3);
  for (let i = 1; i <= 5; i++) apply({ type: CommandType.PutJob, atMs: i, job: spec('a', `echo ${i}`), by: 'x' });
  t.same(sm.versionsOf('a').map((v) => v.n), [3, 4, 5]);
});

t.test('snapshots carry versions; a snapshot without them restores with none', async (t) => {
  const { sm, apply } = machine();
  apply({ type: CommandType.PutJob, atMs: 10, job: spec('a', 'echo 1'), by: 'x' });
  apply({ type: CommandType.PutJob, atMs: 20, job: spec('a', 'echo 2'), by: 'y' });
  const copy = new StateMachine({ historyLimit: 5 });
  copy.restore(sm.snapshot());
  t.same(copy.versionsOf('a'), sm.versionsOf('a'));
  let i = copy.lastApplied;
  copy.apply({ type: CommandType.PutJob, atMs: 30, job: spec('a', 'echo 3') }, ++i);
  t.same(copy.versionsOf('a').map((v) => v.n), [1, 2, 3], 'numbering goes on after a restore');
  const old = JSON.parse(new TextDecoder().decode(sm.snapshot())) as Record<string, unknown>;
  delete old['versions'];
  const fromOld = new StateMachine({ historyLimit: 5 });
  fromOld.restore(new TextEncoder().encode(JSON.stringify(old)));
  t.same(fromOld.versionsOf('a'), []);
  t.equal(fromOld.job('a')?.executorConfig['command'], 'echo 2');
});
