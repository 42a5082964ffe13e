// Commands: every change to the replicated state. The leader decides all
// times, ids and choices and carries them in the command; apply() only
// follows. Type ids are append-only: never renumber or reuse one.

import type { JobSpec } from './job.js';
import type { SkipReason, Trigger } from './execution.js';

export const CommandType = {
  PutJob: 1,
  DeleteJob: 2,
  ToggleJob: 3,
  RecordFires: 4,
  FinishExecutions: 5,
  DeleteExecutions: 6,
  StartExecutions: 7,
  PutJobs: 8,
} as const;
export type CommandType = (typeof CommandType)[keyof typeof CommandType];

/** Create or replace a job (Dkron's upsert with merge of computed fields). */
export interface PutJob {
  readonly type: typeof CommandType.PutJob;
  readonly atMs: number;
  readonly job: JobSpec;
  /** Who asked (a token accessor; absent in older logs). */
  readonly by?: string;
  /** A rollback: the version whose spec this is. */
  readonly restoredFrom?: number;
}

/** Create or replace many jobs at once, all or nothing (restore). */
export interface PutJobs {
  readonly type: typeof CommandType.PutJobs;
  readonly atMs: number;
  /** Parents before children. */
  readonly jobs: readonly JobSpec[];
  readonly by?: string;
}

export interface DeleteJob {
  readonly type: typeof CommandType.DeleteJob;
  readonly atMs: number;
  readonly name: string;
  readonly by?: string;
}

export interface ToggleJob {
  readonly type: typeof CommandType.ToggleJob;
  readonly atMs: number;
  readonly name: string;
  readonly by?: string;
}

export interface Fire {
  readonly jobName: string;
  readonly scheduledAtMs: number;
  readonly trigger: Trigger;
  /** The nodes chosen to run it (one execution each). */
  readonly nodes: readonly string[];
}

export interface Skip {
  readonly jobName: string;
  readonly firstMs: number;
  readonly lastMs: number;
  readonly count: number;
  readonly reason: SkipReason;
}

/**
 * Fires decided by the scheduler (or asked for by a user), committed before
 * they run. `lastScheduled` advances each job's bookkeeping so that a
 * restarted or new leader resumes after them.
 */
export interface RecordFires {
  readonly type: typeof CommandType.RecordFires;
  readonly atMs: number;
  readonly fires: readonly Fire[];
  readonly skips: readonly Skip[];
  readonly lastScheduled: readonly { readonly jobName: string; readonly atMs: number }[];
}

/** Pending executions (retries after their backoff) that the leader starts now. */
export interface StartExecutions {
  readonly type: typeof CommandType.StartExecutions;
  readonly atMs: number;
  readonly starts: readonly { readonly id: string; readonly nodeName: string }[];
}

export interface ExecutionResult {
  readonly id: string;
  readonly finishedAtMs: number;
  readonly state: 'succeeded' | 'failed' | 'stopped' | 'lost';
  readonly output: string;
  readonly outputTruncated: boolean;
  readonly exitCode: number | null;
  readonly error: string;
}

/** Results of finished executions. Applying one twice changes nothing. */
export interface FinishExecutions {
  readonly type: typeof CommandType.FinishExecutions;
  readonly atMs: number;
  readonly results: readonly ExecutionResult[];
}

/** Drop a job's execution history and reset its counters. */
export interface DeleteExecutions {
  readonly type: typeof CommandType.DeleteExecutions;
  readonly atMs: number;
  readonly name: string;
}

export type Command = PutJob | PutJobs | DeleteJob | ToggleJob | RecordFires | StartExecutions | FinishExecutions | DeleteExecutions;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(command: Command): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

export function decodeCommand(data: Uint8Array): Command {
  return JSON.parse(decoder.decode(data)) as Command;
}
