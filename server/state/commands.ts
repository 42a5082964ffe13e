// Commands: every change to the replicated state. The leader decides all
// times, ids and choices and carries them in the command; apply() only
// follows. Type ids are append-only: never renumber or reuse one.

import type { Job, JobSpec } from './job.js';
import type { SkipReason, Trigger } from './execution.js';
import type { AclPolicy, AclToken } from './acl.js';
import type { NotificationOutcome, NotificationSpec } from './notification.js';
import type { OdmStatus } from './odm-tasks.js';

export const CommandType = {
  PutJob: 1,
  DeleteJob: 2,
  ToggleJob: 3,
  RecordFires: 4,
  FinishExecutions: 5,
  DeleteExecutions: 6,
  StartExecutions: 7,
  PutJobs: 8,
  SetPaused: 9,
  AclBootstrap: 10,
  PutAclToken: 11,
  DeleteAclToken: 12,
  PutAclPolicy: 13,
  DeleteAclPolicy: 14,
  DeclareSecretKeys: 15,
  // 40-49: notifications.
  AddNotifications: 40,
  NotificationOutcomes: 41,
  // 30–39: Open Data Mesh executor tasks (see odm-tasks.ts).
  OdmTaskPosted: 30,
  OdmCallback: 31,
  OdmTaskReceived: 32,
  OdmCallbackDelivered: 33,
  AdvanceRun: 20,
  StopRun: 21,
  RestartRun: 22,
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
  /** The run this fire starts, when its job is a workflow's root (the id is the leader's). */
  readonly runId?: string;
  /** Parameters asked for with the run, over the job's defaults. */
  readonly parameters?: Readonly<Record<string, string>>;
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
/**
 * A job's bookkeeping moves to `atMs`. `planned` is the schedule the leader
 * planned with: if the job's schedule, zone or phase changed before the
 * command applies (an edit raced with the commit), the plan is stale and
 * nothing of it applies for that job, so no second of the new schedule is
 * passed over; the leader plans the job again.
 */
export interface ScheduledUpTo {
  readonly jobName: string;
  readonly atMs: number;
  readonly planned?: PlannedSchedule;
}

export interface PlannedSchedule {
  readonly schedule: string;
  readonly timezone: string;
  readonly anchorMs: number;
}

/** The schedule a plan for `job` is made for. */
export function plannedFor(job: Pick<Job, 'schedule' | 'timezone' | 'anchorMs'>): PlannedSchedule {
  return { schedule: job.schedule, timezone: job.timezone, anchorMs: job.anchorMs };
}

/** Whether a plan made for `planned` (absent: written by an older server) still holds for `job`. */
export function stillPlanned(planned: PlannedSchedule | undefined, job: Pick<Job, 'schedule' | 'timezone' | 'anchorMs'>): boolean {
  return !planned || (planned.schedule === job.schedule && planned.timezone === job.timezone && planned.anchorMs === job.anchorMs);
}

export interface RecordFires {
  readonly type: typeof CommandType.RecordFires;
  readonly atMs: number;
  readonly fires: readonly Fire[];
  readonly skips: readonly Skip[];
  readonly lastScheduled: readonly ScheduledUpTo[];
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
  /** Parameters the execution handed downstream (its `::set-param KEY=VALUE` lines). */
  readonly paramsOut?: Readonly<Record<string, string>>;
  /** The failure's stable code (CT_EXEC_*); absent on success and in commands written before codes existed. */
  readonly errorCode?: string;
}

/** Results of finished executions. Applying one twice changes nothing. */
export interface FinishExecutions {
  readonly type: typeof CommandType.FinishExecutions;
  readonly atMs: number;
  readonly results: readonly ExecutionResult[];
  /**
   * Deliveries the leader rendered for these results (absent in older logs).
   * Committed with the results, so a result is never recorded without them;
   * one whose execution this command does not finish is dropped.
   */
  readonly notifications?: readonly NotificationSpec[];
}

/** Deliveries owed for executions that started (or for any execution; one already stored is kept as it is). */
export interface AddNotifications {
  readonly type: typeof CommandType.AddNotifications;
  readonly atMs: number;
  readonly notifications: readonly NotificationSpec[];
}

/** Outcomes of delivery attempts made by the leader's notifier. */
export interface NotificationOutcomes {
  readonly type: typeof CommandType.NotificationOutcomes;
  readonly atMs: number;
  readonly outcomes: readonly NotificationOutcome[];
}

/** Drop a job's execution history and reset its counters. */
export interface DeleteExecutions {
  readonly type: typeof CommandType.DeleteExecutions;
  readonly atMs: number;
  readonly name: string;
}

/**
 * Pause or resume the scheduler of the whole cluster. While paused, every
 * scheduled fire that reaches apply() is recorded as skipped with reason
 * `paused` instead of starting; manual runs, retries and child runs go on.
 */
export interface SetPaused {
  readonly type: typeof CommandType.SetPaused;
  readonly atMs: number;
  readonly paused: boolean;
}

/**
 * executor_config keys that executors declare secret, as a node that has
 * the executor reported them (an agent at registration, a server for its
 * own plugins), so that every server redacts them, also one without that
 * plugin. Added to what is recorded; never taken away (hiding a key too
 * many is safe, showing one is not).
 */
export interface DeclareSecretKeys {
  readonly type: typeof CommandType.DeclareSecretKeys;
  readonly atMs: number;
  readonly declared: readonly { readonly executor: string; readonly keys: readonly string[] }[];
}

/** Turn ACLs on, once, with the first management token. A second bootstrap is refused. */
export interface AclBootstrap {
  readonly type: typeof CommandType.AclBootstrap;
  readonly atMs: number;
  readonly token: AclToken;
}

/** Create a token (its accessor and secret hash drawn by the leader). */
export interface PutAclToken {
  readonly type: typeof CommandType.PutAclToken;
  readonly atMs: number;
  readonly token: AclToken;
}

export interface DeleteAclToken {
  readonly type: typeof CommandType.DeleteAclToken;
  readonly atMs: number;
  readonly accessor: string;
}

/** Create or replace a policy. */
export interface PutAclPolicy {
  readonly type: typeof CommandType.PutAclPolicy;
  readonly atMs: number;
  readonly policy: Pick<AclPolicy, 'name' | 'description' | 'rules'>;
}

export interface DeleteAclPolicy {
  readonly type: typeof CommandType.DeleteAclPolicy;
  readonly atMs: number;
  readonly name: string;
}

/**
 * The leader's decision for a run, made by the pure planner from the run as
 * it stood: tasks to start (a pending execution each), tasks to skip (with
 * the reason), and the run's end once nothing is left to do. Only waiting
 * tasks move, so a decision applied twice (or a stale one) changes nothing.
 */
export interface AdvanceRun {
  readonly type: typeof CommandType.AdvanceRun;
  readonly atMs: number;
  readonly runId: string;
  readonly start: readonly string[];
  readonly skip: readonly { readonly job: string; readonly reason: string }[];
  readonly finish?: { readonly state: 'succeeded' | 'failed'; readonly reason: string };
  /** Started tasks that wait for their `not_before` time (epoch ms), by job. */
  readonly notBefore?: Readonly<Record<string, number>>;
  /** Tasks that cannot start (e.g. a not_before that names no time), with the reason. */
  readonly fail?: readonly { readonly job: string; readonly reason: string }[];
}

/** Stop a run: waiting and pending tasks are stopped here, running ones by the leader. */
export interface StopRun {
  readonly type: typeof CommandType.StopRun;
  readonly atMs: number;
  readonly runId: string;
}

/** Run a finished run again: its failed, stopped and never-started tasks wait again; succeeded ones stay. */
export interface RestartRun {
  readonly type: typeof CommandType.RestartRun;
  readonly atMs: number;
  readonly runId: string;
}

export type RunCommand = AdvanceRun | StopRun | RestartRun;

export type AclCommand = AclBootstrap | PutAclToken | DeleteAclToken | PutAclPolicy | DeleteAclPolicy;

export type NotificationCommand = AddNotifications | NotificationOutcomes;

/**
 * The leader is about to post an `odm` execution's task to an executor
 * service: from now on the execution waits for the callback (or the deadline).
 */
export interface OdmTaskPosted {
  readonly type: typeof CommandType.OdmTaskPosted;
  readonly atMs: number;
  readonly executionId: string;
  readonly taskId: string;
  readonly service: string;
  readonly address: string;
  /** SHA-256 (hex) of the callback token drawn by the leader. */
  readonly tokenHash: string;
  readonly checkAfterCallback: boolean;
  readonly deadlineMs: number;
}

/** An executor service called back (PATCH). Unknown task or wrong token: refused; a repeat changes nothing. */
export interface OdmCallback {
  readonly type: typeof CommandType.OdmCallback;
  readonly atMs: number;
  readonly taskId: string;
  readonly tokenHash: string;
  readonly status: OdmStatus;
  readonly results: unknown;
  readonly errors: unknown;
}

/** An ODM platform handed Clocktower a task: taskType names the job, which fires now on `nodes`. */
export interface OdmTaskReceived {
  readonly type: typeof CommandType.OdmTaskReceived;
  readonly atMs: number;
  readonly taskId: string;
  readonly jobName: string;
  readonly callbackRef: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly nodes: readonly string[];
}

/** The platform answered an inbound task's callback with a 2xx. */
export interface OdmCallbackDelivered {
  readonly type: typeof CommandType.OdmCallbackDelivered;
  readonly atMs: number;
  readonly taskId: string;
}

export type OdmCommand = OdmTaskPosted | OdmCallback | OdmTaskReceived | OdmCallbackDelivered;

export type Command = RunCommand | OdmCommand | AclCommand | NotificationCommand | SetPaused | DeclareSecretKeys | PutJob | PutJobs | DeleteJob | ToggleJob | RecordFires | StartExecutions | FinishExecutions | DeleteExecutions;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Output is kept byte for byte: a leading BOM too. */
const blobDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * A command's first byte says how it is encoded: `{` is plain JSON (every
 * command but FinishExecutions, and every entry written before the framed
 * form existed); `framedResults` is FinishExecutions with its outputs taken
 * out of the JSON and stored raw after it, so output costs its UTF-8 bytes
 * and no more (JSON would escape a NUL or another control byte to six).
 */
const framedResults = 0x01;

export function encodeCommand(command: Command): Uint8Array {
  if (command.type !== CommandType.FinishExecutions) return encoder.encode(JSON.stringify(command));
  const outputs = command.results.map((r) => encoder.encode(r.output));
  const head = { ...command, results: command.results.map((r, i) => ({ ...r, output: outputs[i]?.length ?? 0 })) };
  return frame(framedResults, head, outputs);
}

export function decodeCommand(data: Uint8Array): Command {
  if (data[0] !== framedResults) return JSON.parse(decoder.decode(data)) as Command;
  const { head, blob } = unframe(data, 'command');
  const command = head as FinishExecutions & { results: (Omit<ExecutionResult, 'output'> & { output: unknown })[] };
  return { ...command, results: command.results.map((r) => ({ ...r, output: blob(r.output) })) };
}

/**
 * The bytes one result adds to an encoded FinishExecutions command (within a
 * few bytes: the comma between results), for splitting results into
 * commands of a bounded size.
 */
export function encodedResultBytes(result: ExecutionResult): number {
  const output = utf8Length(result.output);
  // The JSON head without building it (a burst measures every result): its
  // keys, numbers and booleans on the high side, the strings that need
  // escaping as JSON writes them; the output goes as a blob, its length in the head.
  let head = 150 + utf8Length(result.id) + String(output).length;
  if (result.error !== '') head += utf8Length(JSON.stringify(result.error));
  if (result.paramsOut !== undefined) head += 14 + utf8Length(JSON.stringify(result.paramsOut));
  if (result.errorCode !== undefined) head += 14 + utf8Length(JSON.stringify(result.errorCode));
  return head + output;
}

/** [tag][u32 LE length of the JSON head][JSON head][blobs, in the order the head names them]. */
export function frame(tag: number, head: unknown, blobs: readonly Uint8Array[]): Uint8Array {
  return drain(framePieces(tag, [encoder.encode(JSON.stringify(head))], blobs));
}

/**
 * The same frame with its JSON head given in encoded pieces, built one step
 * per `sliceBytes` copied (a snapshot's tens of megabytes, between turns of
 * the event loop); the generator's value is the frame.
 */
export function* framePieces(tag: number, head: readonly Uint8Array[], blobs: readonly Uint8Array[], sliceBytes = Number.POSITIVE_INFINITY): Generator<void, Uint8Array> {
  let headLength = 0;
  for (const p of head) headLength += p.length;
  let size = 5 + headLength;
  for (const b of blobs) size += b.length;
  const out = new Uint8Array(size);
  out[0] = tag;
  new DataView(out.buffer).setUint32(1, headLength, true);
  let at = 5;
  let sinceYield = 0;
  for (const part of [head, blobs]) {
    for (const p of part) {
      out.set(p, at);
      at += p.length;
      sinceYield += p.length;
      if (sinceYield >= sliceBytes) {
        sinceYield = 0;
        yield;
      }
    }
  }
  return out;
}

/** Runs a sliced computation to its end at once; its value. */
export function drain<T>(steps: Iterator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/** The head of a framed value, and a reader that takes its blobs in order, each named by its byte length. */
export function unframe(data: Uint8Array, what: string): { head: unknown; blob: (length: unknown) => string } {
  if (data.length < 5) throw new Error(`${what}: framed data of ${data.length} bytes is too short`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const headLength = view.getUint32(1, true);
  if (5 + headLength > data.length) throw new Error(`${what}: the head runs past the end of the data`);
  const head: unknown = JSON.parse(decoder.decode(data.subarray(5, 5 + headLength)));
  let at = 5 + headLength;
  const blob = (length: unknown): string => {
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0 || at + length > data.length) {
      throw new Error(`${what}: a blob of ${String(length)} bytes does not fit the data`);
    }
    const text = blobDecoder.decode(data.subarray(at, at + length));
    at += length;
    return text;
  };
  return { head, blob };
}

/** The UTF-8 length of a string, without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
