// Serialises a captured state into the snapshot format, a slice at a time.
//
// The state machine's objects are never changed in place (a change replaces
// the object), so a capture is cheap: the records' lists copied, their
// entries shared. Serialising is what costs (with 2,000 jobs of 100
// executions each, tens of megabytes of JSON), so it runs as a generator
// that yields every few thousand items: snapshot() drains it at once, and
// the Raft driver steps snapshotSlices() once per turn of the event loop while
// the state goes on changing; the bytes are those of the state at the capture.
//
// Format: [tag][u32 LE length of the JSON head][JSON head][blobs], the
// execution outputs stored raw in the order the head names them (as
// FinishExecutions is framed, see commands.ts).

import type { AclPolicy, AclToken } from './acl.js';
import type { Execution, SkippedFires } from './execution.js';
import type { Job, JobVersion } from './job.js';
import type { Notification } from './notification.js';
import type { OdmSnapshot } from './odm-tasks.js';
import type { Run } from './run.js';
import { framePieces } from './commands.js';

export interface SnapshotCapture {
  readonly nextSeq: number;
  readonly appliedIndex: number;
  readonly paused: boolean;
  readonly jobs: readonly { readonly job: Job; readonly executions: readonly Execution[]; readonly skips: readonly SkippedFires[] }[];
  readonly versions: readonly { readonly name: string; readonly next: number; readonly list: readonly JobVersion[] }[];
  readonly acl: { readonly bootstrapped: boolean; readonly tokens: readonly AclToken[]; readonly policies: readonly AclPolicy[] };
  readonly notifications: readonly Notification[];
  readonly odm: OdmSnapshot;
  readonly runs: readonly Run[];
  /** Executor config keys the executors declare secret. */
  readonly secretKeys: readonly { readonly executor: string; readonly keys: readonly string[] }[];
}

export const framedSnapshot = 0x02;
/** Items (executions, versions, runs, ...) serialised between two yields. */
const sliceItems = 2000;
/** Bytes copied into the result between two yields. */
const sliceBytes = 8 << 20;
const encoder = new TextEncoder();

/** The snapshot's bytes, one slice per step; the generator's value is the whole. */
export function* writeSnapshot(c: SnapshotCapture): Generator<void, Uint8Array> {
  const head: Uint8Array[] = [];
  const outputs = new OutputBlobs();
  let sinceYield = 0;
  const text = (s: string) => head.push(encoder.encode(s));
  const counted = function* (n: number): Generator<void, void> {
    sinceYield += n;
    if (sinceYield >= sliceItems) {
      sinceYield = 0;
      outputs.seal();
      yield;
    }
  };
  /** `"key":[...]`, the items' JSON in slices. */
  const array = function* <T>(key: string, items: readonly T[], json: (item: T) => string, weight: (item: T) => number): Generator<void, void> {
    text(`,${JSON.stringify(key)}:[`);
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as T;
      text((i === 0 ? '' : ',') + json(item));
      yield* counted(weight(item));
    }
    text(']');
  };

  text(`{"v":2,"nextSeq":${c.nextSeq},"appliedIndex":${c.appliedIndex},"paused":${c.paused}`);
  yield* array('jobs', c.jobs, (r) => JSON.stringify({
    job: r.job,
    executions: r.executions.map((e) => ({ ...e, output: outputs.add(e.output) })),
    skips: r.skips,
  }), (r) => 1 + r.executions.length + r.skips.length);
  yield* array('versions', c.versions, (v) => JSON.stringify(v), (v) => 1 + v.list.length);
  text(`,"acl":${JSON.stringify(c.acl)}`);
  yield* array('notifications', c.notifications, (n) => JSON.stringify(n), () => 1);
  text(`,"odm":${JSON.stringify(c.odm)}`);
  yield* array('runs', c.runs, (r) => JSON.stringify(r), (r) => 1 + r.tasks.length);
  text(`,"secretKeys":${JSON.stringify(c.secretKeys)}`);
  text('}');
  outputs.seal();
  yield;
  return yield* framePieces(framedSnapshot, head, outputs.blobs, sliceBytes);
}

/**
 * The outputs, UTF-8 encoded one after another into a few large buffers
 * (not one small buffer each: hundreds of thousands of those keep the
 * garbage collector busy for longer than the encoding takes).
 */
class OutputBlobs {
  readonly blobs: Uint8Array[] = [];
  private buffer = new Uint8Array(0);
  private used = 0;

  /** Encodes `s`; returns its length in bytes. */
  add(s: string): number {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const room = s.length * 3;
    if (this.buffer.length - this.used < room) {
      this.seal();
      this.buffer = new Uint8Array(Math.max(room, 1 << 20));
    }
    const { written } = encoder.encodeInto(s, this.buffer.subarray(this.used));
    this.used += written;
    return written;
  }

  /** Ends the current buffer (at a slice's end). */
  seal(): void {
    if (this.used > 0) this.blobs.push(this.buffer.subarray(0, this.used));
    this.buffer = this.buffer.subarray(this.used);
    this.used = 0;
  }
}
