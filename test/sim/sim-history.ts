// The client side of the simulation: a key-value workload kept on the real
// state machine (a key is a job, its value the job's metadata `v`; writing
// "" deletes the job), and the history of operations the linearizability
// checker reads. Times in the history are one logical clock for the run.

import { CommandType, type Command } from '../../server/state/commands.js';
import { defaultCatchUp, type JobSpec } from '../../server/state/job.js';
import type { StateMachine } from '../../server/state/state-machine.js';
import type { KvInput as CheckerInput, KvOutput, Operation } from './linearizability.js';

/** The simulation's clients only put and get. */
export type KvInput = Extract<CheckerInput, { kind: 'put' | 'get' }>;

/** An operation a client is waiting on. */
export interface PendingOp {
  readonly client: number;
  readonly input: KvInput;
  readonly call: number;
  /** The tick after which the client gives up. */
  readonly deadline: number;
  settled: boolean;
}

export class History {
  private clock = 0;
  readonly ops: Operation[] = [];
  ok = 0;
  failed = 0;
  unknown = 0;

  begin(client: number, input: KvInput, deadline: number): PendingOp {
    return { client, input, call: ++this.clock, deadline, settled: false };
  }

  complete(op: PendingOp, output: KvOutput): void {
    if (op.settled) return;
    op.settled = true;
    this.ok++;
    this.ops.push({ client: op.client, input: op.input, call: op.call, ret: ++this.clock, output });
  }

  /** It certainly did not take effect (refused, or its entry was overwritten): left out of the history. */
  fail(op: PendingOp): void {
    if (op.settled) return;
    op.settled = true;
    this.failed++;
  }

  /** The client gave up: it may or may not have taken effect. */
  giveUp(op: PendingOp): void {
    if (op.settled) return;
    op.settled = true;
    this.unknown++;
    // A read with an unknown outcome tells nothing: leave it out.
    if (op.input.kind === 'put') this.ops.push({ client: op.client, input: op.input, call: op.call, ret: null, output: null });
  }
}

const jobTemplate: Omit<JobSpec, 'name' | 'metadata'> = {
  displayName: '', timezone: '', schedule: '@every 1s', owner: '', ownerEmail: '', disabled: false,
  tags: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor: 'shell',
  executorConfig: { command: 'true' }, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp,
};

/** The command that performs a write. */
export function writeCommand(key: string, value: string, atMs: number): Command {
  if (value === '') return { type: CommandType.DeleteJob, atMs, name: key };
  // Some writes change the schedule: an edit must never move the job's bookmark back.
  // Some writes disable the job and the next enables it again: re-enabling must
  // never move the bookmark back to the (maybe slower) clock of the leader
  // that proposed it, or seconds already fired would fire again.
  const disabled = [...value].reduce((n, c) => n + c.charCodeAt(0), 0) % 3 === 0;
  return { type: CommandType.PutJob, atMs, job: { ...jobTemplate, name: key, disabled, metadata: { v: value } } };
}

export function readValue(sm: StateMachine, key: string): string {
  return sm.job(key)?.metadata['v'] ?? '';
}
