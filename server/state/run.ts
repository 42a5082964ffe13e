// Workflow runs: one execution of a root job and of every job downstream of
// it. A run is replicated state: its id and every decision (which task
// starts, which is skipped and why, how the run ends) are made by the leader
// and carried in commands; apply() only records them, so a task runs at most
// once per run (plus its own retries), across leader changes.

import type { DependencyEdge, TriggerRule } from './job.js';

export type RunState = 'running' | 'succeeded' | 'failed' | 'stopped';

/**
 * waiting: its edges are not decided yet; pending: its execution is created
 * and waits for a node; running; succeeded / failed / stopped: its last
 * attempt ended so; skipped: its edges can no longer be satisfied (`reason`).
 */
export type TaskState = 'waiting' | 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'stopped';

export interface RunTask {
  readonly job: string;
  /** The job's edges when the run began (later edits do not change a run under way). */
  readonly edges: readonly DependencyEdge[];
  readonly triggerRule: TriggerRule;
  readonly state: TaskState;
  /** Its latest execution (the latest attempt), or null before it started. */
  readonly executionId: string | null;
  readonly attempt: number;
  readonly startedAtMs: number | null;
  readonly finishedAtMs: number | null;
  readonly reason: string;
  /** Parameters it handed downstream (`::set-param KEY=VALUE` lines). */
  readonly paramsOut: Readonly<Record<string, string>>;
  readonly exitCode: number | null;
  /** Its output's tail, kept only when an edge of the run matches on it. */
  readonly output: string;
}

export interface Run {
  readonly id: string;
  readonly rootJob: string;
  readonly state: RunState;
  readonly parameters: Readonly<Record<string, string>>;
  /** The root fire's scheduled time. */
  readonly scheduledAtMs: number;
  readonly createdAtMs: number;
  readonly finishedAtMs: number | null;
  readonly reason: string;
  /** Upstreams before downstreams; the root first. */
  readonly tasks: readonly RunTask[];
}

export function isTaskDone(state: TaskState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'skipped' || state === 'stopped';
}

/** The parameter names a run accepts (they become CLOCKTOWER_PARAM_<KEY> variables). */
export const paramNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
