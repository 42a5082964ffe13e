// What a workflow run does next, decided from the run alone: which waiting
// tasks start (their edges are satisfied under their trigger rule), which are
// skipped (their edges can no longer be satisfied; the skip propagates to
// their own downstream), and, once every task is done, how the run ends.
// Pure: no clock, no I/O. The leader commits the answer as an AdvanceRun
// command; a new leader asks again from the replicated run, and since only
// waiting tasks move, asking twice changes nothing.

import type { DependencyEdge } from '../state/job.js';
import { isTaskDone, type Run, type RunTask, type TaskState } from '../state/run.js';

export interface RunPlan {
  readonly start: string[];
  readonly skip: { job: string; reason: string }[];
  readonly finish?: { state: 'succeeded' | 'failed'; reason: string };
}

export type EdgeOutcome = { readonly kind: 'satisfied' } | { readonly kind: 'open' } | { readonly kind: 'unsatisfied'; readonly why: string };

const satisfied: EdgeOutcome = { kind: 'satisfied' };
const open: EdgeOutcome = { kind: 'open' };

/** Whether the edge holds for its upstream task as it stands. */
export function edgeOutcome(edge: DependencyEdge, upstream: Pick<RunTask, 'state' | 'exitCode' | 'output'> | undefined): EdgeOutcome {
  const no = (why: string): EdgeOutcome => ({ kind: 'unsatisfied', why });
  if (!upstream) return no(`${edge.job} is not part of this run`);
  if (!isTaskDone(upstream.state)) return open;
  const failedLike = upstream.state === 'failed' || upstream.state === 'stopped';
  if (edge.on === 'success' && upstream.state !== 'succeeded') return no(`${edge.job} ${upstream.state} and the edge wants success`);
  if (edge.on === 'failure' && !failedLike) return no(`${edge.job} ${upstream.state} and the edge wants failure`);
  if (edge.exitCode !== undefined && upstream.exitCode !== edge.exitCode) {
    return no(`${edge.job} exited with ${upstream.exitCode === null ? 'no exit code' : String(upstream.exitCode)} and the edge wants ${edge.exitCode}`);
  }
  if (edge.outputMatches !== undefined && !matches(edge.outputMatches, upstream.output)) {
    return no(`the output of ${edge.job} does not match ${JSON.stringify(edge.outputMatches)}`);
  }
  return satisfied;
}

function matches(pattern: string, text: string): boolean {
  try {
    return new RegExp(pattern, 'm').test(text);
  } catch {
    return false; // refused when the job was saved; an old entry never throws here
  }
}

/** What the run does next. An empty plan (nothing to start, skip or finish) means: wait. */
export function planRun(run: Run): RunPlan {
  const start: string[] = [];
  const skip: { job: string; reason: string }[] = [];
  if (run.state !== 'running') return { start, skip };
  // A working copy: a skip decided here is visible to the tasks after it.
  const tasks = new Map<string, RunTask>(run.tasks.map((t) => [t.job, t]));
  const set = (t: RunTask, state: TaskState) => tasks.set(t.job, { ...t, state });
  for (let changed = true; changed;) {
    changed = false;
    for (const t of tasks.values()) {
      if (t.state !== 'waiting') continue;
      const outcomes = t.edges.map((e) => edgeOutcome(e, tasks.get(e.job)));
      const decision = decide(t.triggerRule, outcomes);
      if (decision.kind === 'start') {
        start.push(t.job);
        set(t, 'pending');
      } else if (decision.kind === 'skip') {
        skip.push({ job: t.job, reason: decision.reason });
        set(t, 'skipped');
        changed = true;
      }
    }
  }
  const all = [...tasks.values()];
  if (!all.every((t) => isTaskDone(t.state))) return { start, skip };
  const unhandled = all.find((t) => (t.state === 'failed' || t.state === 'stopped') && !failureTaken(t, all));
  const finish = unhandled
    ? { state: 'failed' as const, reason: `task ${unhandled.job} ${unhandled.state}${unhandled.reason === '' ? '' : `: ${unhandled.reason}`}` }
    : { state: 'succeeded' as const, reason: '' };
  return { start, skip, finish };
}

type Decision = { kind: 'start' } | { kind: 'wait' } | { kind: 'skip'; reason: string };

function decide(rule: 'all' | 'any', outcomes: readonly EdgeOutcome[]): Decision {
  if (outcomes.length === 0) return { kind: 'start' };
  const whys = outcomes.flatMap((o) => (o.kind === 'unsatisfied' ? [o.why] : []));
  if (rule === 'all') {
    if (whys.length > 0) return { kind: 'skip', reason: whys[0] ?? '' };
    return outcomes.every((o) => o.kind === 'satisfied') ? { kind: 'start' } : { kind: 'wait' };
  }
  if (outcomes.some((o) => o.kind === 'satisfied')) return { kind: 'start' };
  return whys.length === outcomes.length ? { kind: 'skip', reason: `no edge can be satisfied: ${whys.join('; ')}` } : { kind: 'wait' };
}

/** A failure is taken when a `failure` or `done` edge from the failed task was satisfied by it. */
function failureTaken(failed: RunTask, tasks: readonly RunTask[]): boolean {
  return tasks.some((t) => t.edges.some((e) => e.job === failed.job && e.on !== 'success' && edgeOutcome(e, failed).kind === 'satisfied'));
}

/** Whether a plan asks for anything. */
export function isEmptyPlan(plan: RunPlan): boolean {
  return plan.start.length === 0 && plan.skip.length === 0 && plan.finish === undefined;
}

/**
 * The parameters a task of the run sees: the run's, then what its upstream
 * tasks (transitively, upstreams first) handed down with `::set-param`.
 */
export function taskParameters(run: Run, job: string): Record<string, string> {
  const byJob = new Map(run.tasks.map((t) => [t.job, t]));
  const ancestors = new Set<string>();
  const visit = (name: string): void => {
    for (const e of byJob.get(name)?.edges ?? []) {
      if (ancestors.has(e.job)) continue;
      ancestors.add(e.job);
      visit(e.job);
    }
  };
  visit(job);
  const out: Record<string, string> = { ...run.parameters };
  for (const t of run.tasks) if (ancestors.has(t.job)) Object.assign(out, t.paramsOut);
  return out;
}
