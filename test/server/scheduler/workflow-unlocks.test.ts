import t from 'tap';
import { edgeOutcome, planRun, taskParameters } from '../../../server/scheduler/workflow-unlocks.js';
import { paramsFromOutput, renderConfig, renderTemplate } from '../../../server/scheduler/workflow-template.js';
import type { DependencyEdge, TriggerRule } from '../../../server/state/job.js';
import type { Run, RunTask, TaskState } from '../../../server/state/run.js';

// A run in a line: `task(job, state, edges)`, the root first.
function task(job: string, state: TaskState, edges: DependencyEdge[] = [], over: Partial<RunTask> = {}): RunTask {
  return {
    job, edges, triggerRule: 'all', state, executionId: null, attempt: 0, startedAtMs: null, finishedAtMs: null,
    reason: '', paramsOut: {}, exitCode: state === 'succeeded' ? 0 : state === 'failed' ? 1 : null, output: '', ...over,
  };
}
function run(tasks: RunTask[], over: Partial<Run> = {}): Run {
  return { id: 'r1', rootJob: tasks[0]?.job ?? '', state: 'running', parameters: {}, scheduledAtMs: 0, createdAtMs: 0, finishedAtMs: null, reason: '', tasks, ...over };
}
const on = (job: string, kind: DependencyEdge['on'] = 'success', extra: Partial<DependencyEdge> = {}): DependencyEdge => ({ job, on: kind, ...extra });
const any: Partial<RunTask> = { triggerRule: 'any' as TriggerRule };

t.test('edge kinds against each upstream end', async (t) => {
  const ends: TaskState[] = ['succeeded', 'failed', 'stopped', 'skipped'];
  const table: Record<DependencyEdge['on'], boolean[]> = {
    success: [true, false, false, false],
    failure: [false, true, true, false],
    done: [true, true, true, true],
  };
  for (const kind of ['success', 'failure', 'done'] as const) {
    ends.forEach((end, i) => {
      const got = edgeOutcome(on('a', kind), task('a', end)).kind;
      t.equal(got, table[kind][i] ? 'satisfied' : 'unsatisfied', `${kind} after ${end}`);
    });
    for (const live of ['waiting', 'pending', 'running'] as const) t.equal(edgeOutcome(on('a', kind), task('a', live)).kind, 'open', `${kind} while ${live}`);
  }
  t.match(edgeOutcome(on('ghost'), undefined), { kind: 'unsatisfied', why: 'ghost is not part of this run' });
});

t.test('decisions by output and exit code', async (t) => {
  const a = task('a', 'succeeded', [], { output: 'status=ok\nrows=3\n', exitCode: 0 });
  t.equal(edgeOutcome(on('a', 'success', { outputMatches: '^rows=\\d+$' }), a).kind, 'satisfied', 'multi-line: ^ and $ per line');
  t.match(edgeOutcome(on('a', 'success', { outputMatches: 'status=bad' }), a), { kind: 'unsatisfied', why: /does not match "status=bad"/ });
  t.equal(edgeOutcome(on('a', 'done', { exitCode: 0 }), a).kind, 'satisfied');
  t.match(edgeOutcome(on('a', 'failure', { exitCode: 2 }), task('a', 'failed', [], { exitCode: 3 })), { kind: 'unsatisfied', why: 'a exited with 3 and the edge wants 2' });
  t.equal(edgeOutcome(on('a', 'done', { exitCode: 0 }), task('a', 'skipped')).kind, 'unsatisfied', 'a skipped task has no exit code');
  // A decision: two children of one task, one of them runs.
  const p = planRun(run([a, task('yes', 'waiting', [on('a', 'success', { outputMatches: 'status=ok' })]), task('no', 'waiting', [on('a', 'success', { outputMatches: 'status=bad' })])]));
  t.same(p.start, ['yes']);
  t.same(p.skip.map((s) => s.job), ['no']);
  t.equal(p.finish, undefined, 'yes still has to run');
});

t.test('a diamond: D waits for both under all, once', async (t) => {
  const edges = { b: [on('a')], c: [on('a')], d: [on('b'), on('c')] };
  const at = (a: TaskState, b: TaskState, c: TaskState, d: TaskState = 'waiting') =>
    run([task('a', a), task('b', b, edges.b), task('c', c, edges.c), task('d', d, edges.d)]);
  t.same(planRun(at('running', 'waiting', 'waiting')), { start: [], skip: [] }, 'nothing while the root runs');
  t.same(planRun(at('succeeded', 'waiting', 'waiting')).start, ['b', 'c']);
  t.same(planRun(at('succeeded', 'succeeded', 'running')).start, [], 'D waits for C');
  t.same(planRun(at('succeeded', 'succeeded', 'succeeded')).start, ['d']);
  t.same(planRun(at('succeeded', 'succeeded', 'succeeded', 'pending')).start, [], 'started once: never again');
  t.same(planRun(at('succeeded', 'succeeded', 'succeeded', 'succeeded')).finish, { state: 'succeeded', reason: '' });
  const failed = planRun(at('succeeded', 'succeeded', 'failed'));
  t.same(failed.skip, [{ job: 'd', reason: 'c failed and the edge wants success' }]);
  t.same(failed.finish, { state: 'failed', reason: 'task c failed' });
});

t.test('trigger rule any: the first satisfied edge starts it; all unsatisfied skips it', async (t) => {
  const d = (b: TaskState, c: TaskState) => run([task('a', 'succeeded'), task('b', b, [on('a')]), task('c', c, [on('a')]), task('d', 'waiting', [on('b'), on('c')], any)]);
  t.same(planRun(d('succeeded', 'running')).start, ['d'], 'one edge is enough');
  t.same(planRun(d('failed', 'running')).start, [], 'one failed, one open: wait');
  const none = planRun(d('failed', 'failed'));
  t.match(none.skip, [{ job: 'd', reason: /^no edge can be satisfied: b failed .*; c failed/ }]);
});

t.test('skips propagate; a failure or done edge takes a failure', async (t) => {
  // a fails; b (success) skipped; c after b (success) skipped; e after b (done) runs; handler after a (failure) runs.
  const r = run([
    task('a', 'failed', [], { reason: 'exit status 1' }),
    task('b', 'waiting', [on('a')]),
    task('c', 'waiting', [on('b')]),
    task('e', 'waiting', [on('b', 'done')]),
    task('handler', 'waiting', [on('a', 'failure')]),
  ]);
  const p = planRun(r);
  t.same(p.skip.map((s) => s.job), ['b', 'c']);
  t.same(p.start, ['e', 'handler']);
  t.equal(p.finish, undefined);
  const done = run(r.tasks.map((x) => (x.job === 'a' ? x : { ...x, state: p.skip.some((s) => s.job === x.job) ? 'skipped' : 'succeeded' })));
  t.same(planRun(done).finish, { state: 'succeeded', reason: '' }, 'the failure was taken by the handler');
  const unhandled = run([task('a', 'failed', [], { reason: 'exit status 1' }), task('b', 'skipped', [on('a')])]);
  t.same(planRun(unhandled).finish, { state: 'failed', reason: 'task a failed: exit status 1' });
  const condition = run([task('a', 'failed', [], { exitCode: 1 }), task('h', 'skipped', [on('a', 'failure', { exitCode: 2 })])]);
  t.equal(planRun(condition).finish?.state, 'failed', 'a failure edge whose condition did not hold takes nothing');
  t.match(planRun(run([task('a', 'succeeded'), task('b', 'waiting', [on('ghost')])])).skip, [{ job: 'b', reason: 'ghost is not part of this run' }]);
});

t.test('finished and stopped runs plan nothing; a restarted run starts from what is waiting', async (t) => {
  t.same(planRun(run([task('a', 'waiting')], { state: 'stopped' })), { start: [], skip: [] });
  // After a restart: the root succeeded before and stays; b failed and waits again.
  const restarted = run([task('a', 'succeeded'), task('b', 'waiting', [on('a')]), task('c', 'waiting', [on('b')])]);
  t.same(planRun(restarted).start, ['b']);
  // A root that failed waits again and starts (it has no edges).
  t.same(planRun(run([task('a', 'waiting'), task('b', 'waiting', [on('a')])])).start, ['a']);
});

t.test('parameters flow down, later upstreams winning', async (t) => {
  const r = run([
    task('a', 'succeeded', [], { paramsOut: { x: 'from-a', y: 'a' } }),
    task('b', 'succeeded', [on('a')], { paramsOut: { x: 'from-b' } }),
    task('side', 'succeeded', [on('a')], { paramsOut: { z: 'side' } }),
    task('c', 'waiting', [on('b')]),
  ], { parameters: { x: 'run', w: 'run' } });
  t.same(taskParameters(r, 'c'), { x: 'from-b', w: 'run', y: 'a' }, 'only its ancestors');
  t.same(taskParameters(r, 'a'), { x: 'run', w: 'run' });
});

t.test('templates', async (t) => {
  const ctx = { params: { who: 'world' }, runId: 'r-1', jobName: 'greet', scheduledAtMs: Date.UTC(2026, 0, 2, 3, 4, 5) };
  t.same(renderTemplate('hi {{ .Params.who }} {{.Run.ID}} {{ .Job.Name }} {{ .ScheduledTime }}', ctx), { text: 'hi world r-1 greet 2026-01-02T03:04:05.000Z' });
  t.same(renderTemplate('no templates {{', ctx), { text: 'no templates {{' });
  t.same(renderTemplate('{{ .Params.missing }}', ctx), { error: 'unknown template key .Params.missing' });
  t.same(renderConfig({ command: 'echo {{ .Params.nope }}' }, ctx), { error: 'executor_config.command: unknown template key .Params.nope' });
  t.same(renderTemplate('{{ .Run.Nope }}', ctx), { error: 'unknown template key .Run.Nope' });
  t.same(renderTemplate("docker inspect --format '{{.State.Status}}' {{ .Job.Name }}", ctx), { text: "docker inspect --format '{{.State.Status}}' greet" }, 'a Go template of another program is left alone');
  t.same(paramsFromOutput('x\n::set-param a=1\n::set-param b=two words\r\n::set-param a=3\nnot ::set-param c=1\n'), { a: '3', b: 'two words' });
});
