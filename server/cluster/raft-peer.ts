// The sending side of the Raft transport towards one peer: a long-lived Send
// stream carrying ordinary messages in order, and one InstallSnapshot call per
// snapshot.
//
// Nothing here blocks the caller. Messages wait in a bounded queue (the oldest
// is dropped when it is full: Raft retransmits) while the stream is busy
// (gRPC flow control: write() returned false, we wait for 'drain') or still
// connecting. The stream counts as up once the peer's response headers arrive
// (the server sends them at once); if they do not come within the connect
// timeout, or the stream fails, the peer is down: what is queued is dropped,
// the failure is reported once for the whole episode, and messages sent while
// it lasts are dropped until a retry (with backoff, capped) gets headers back.

import * as grpc from '@grpc/grpc-js';
import { raftProto } from '../../proto/load-proto.js';
import type { RaftClient } from '../../proto/generated/clocktower/raft/v1/Raft.js';
import type { RaftMessage } from '../../proto/generated/clocktower/raft/v1/RaftMessage.js';
import type { Message, Snapshot } from '../raft/types.js';
import { messageToWire, snapshotHeaderToWire } from './raft-codec.js';

/** Snapshot data travels in chunks of at most this many bytes. */
export const snapshotChunkBytes = 1024 * 1024;

export interface PeerTuning {
  /** Most messages waiting for one peer; the oldest is dropped beyond it. */
  readonly maxQueue: number;
  /** Most bytes of entries waiting for one peer; the oldest messages are dropped beyond it (the newest is always kept). */
  readonly maxQueueBytes: number;
  /** How long a new stream may take to get the peer's headers before the peer counts as down. */
  readonly connectTimeoutMs: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export interface PeerEvents {
  /** The peer became unreachable (once per failure episode). */
  unreachable(reason: string): void;
  snapshotStatus(ok: boolean): void;
  log(line: string): void;
}

interface SnapshotTransfer {
  finish(ok: boolean, reason: string): void;
}

export class RaftPeer {
  private readonly client: RaftClient;
  private queue: (Message | undefined)[] = [];
  private head = 0;
  /** Bytes of entry data in the queue. */
  private queuedBytes = 0;
  private stream: grpc.ClientWritableStream<RaftMessage> | null = null;
  private established = false;
  private waitingForDrain = false;
  private connectTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** In a failure episode (already reported). */
  private down = false;
  private backoffMs: number;
  private transfer: SnapshotTransfer | null = null;
  private closed = false;
  /** Messages dropped because the peer was down or the queue was full. */
  dropped = 0;

  constructor(
    readonly id: string,
    readonly address: string,
    private readonly tuning: PeerTuning,
    private readonly events: PeerEvents,
  ) {
    const Raft = raftProto().clocktower.raft.v1.Raft;
    this.client = new Raft(address, grpc.credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': tuning.initialBackoffMs,
      'grpc.max_reconnect_backoff_ms': tuning.maxBackoffMs,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.enable_retries': 0,
      'grpc.max_receive_message_length': -1,
    });
    this.backoffMs = tuning.initialBackoffMs;
  }

  send(m: Message): void {
    if (this.closed) return;
    if (this.down && this.stream === null) {
      this.dropped++;
      return;
    }
    this.queue.push(m);
    this.queuedBytes += entryBytes(m);
    while (this.queue.length - this.head > 1
      && (this.queue.length - this.head > this.tuning.maxQueue || this.queuedBytes > this.tuning.maxQueueBytes)) {
      const old = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (old === undefined) continue;
      this.queuedBytes -= entryBytes(old);
      this.dropped++;
    }
    if (this.stream === null) this.open();
    else this.pump();
  }

  /** Forget what waits to be sent (the caller blocked this peer). */
  dropQueued(): void {
    this.dropped += this.queue.length - this.head;
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    this.transfer?.finish(false, 'blocked');
  }

  sendSnapshot(m: Message, snapshot: Snapshot): void {
    if (this.closed) return;
    this.transfer?.finish(false, 'superseded by a newer snapshot');
    let finished = false;
    let settle = (): void => {};
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const call = this.client.InstallSnapshot((err) => {
      transfer.finish(err === null, err ? err.details || err.message : '');
    });
    const transfer: SnapshotTransfer = {
      finish: (ok, reason) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        settle();
        if (this.transfer === transfer) this.transfer = null;
        if (!ok) {
          call.cancel();
          this.events.log(`raft transport: snapshot ${snapshot.meta.index} to ${this.id} failed: ${reason}`);
        }
        if (!this.closed) this.events.snapshotStatus(ok);
      },
    };
    this.transfer = transfer;
    call.on('error', () => {}); // the callback reports it
    const timer = setTimeout(() => transfer.finish(false, `no answer from ${this.address} within ${this.tuning.connectTimeoutMs} ms`), this.tuning.connectTimeoutMs);
    timer.unref();
    call.on('metadata', () => clearTimeout(timer));
    const write = async (): Promise<void> => {
      call.write({ header: snapshotHeaderToWire(m, snapshot) });
      const data = snapshot.data;
      for (let at = 0; at < data.length && !finished; at += snapshotChunkBytes) {
        const chunk = data.subarray(at, Math.min(data.length, at + snapshotChunkBytes));
        // Flow control: wait for the stream to drain (or the transfer to end).
        if (!call.write({ data: chunk })) await Promise.race([new Promise((resolve) => call.once('drain', resolve)), settled]);
      }
      if (!finished) call.end();
    };
    write().catch((err: unknown) => transfer.finish(false, err instanceof Error ? err.message : String(err)));
  }

  close(): void {
    if (this.closed) return;
    this.transfer?.finish(false, 'connection closed');
    this.closed = true;
    this.clearTimers();
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    this.stream?.cancel();
    this.stream = null;
    this.client.close();
  }

  private open(): void {
    this.clearTimers();
    const call = this.client.Send((err) => this.ended(call, err));
    this.stream = call;
    this.established = false;
    this.waitingForDrain = false;
    call.on('error', () => {}); // the callback reports it
    call.on('metadata', () => {
      if (this.stream !== call) return;
      this.established = true;
      this.clearConnectTimer();
      this.backoffMs = this.tuning.initialBackoffMs;
      if (this.down) {
        this.down = false;
        this.events.log(`raft transport: ${this.id} at ${this.address} is reachable again`);
      }
    });
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (this.stream === call && !this.established) this.fail(call, `no answer from ${this.address} within ${this.tuning.connectTimeoutMs} ms`);
    }, this.tuning.connectTimeoutMs);
    this.connectTimer.unref();
    this.pump();
  }

  private pump(): void {
    const call = this.stream;
    if (call === null || this.waitingForDrain) return;
    while (this.head < this.queue.length) {
      const m = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (m === undefined) continue;
      this.queuedBytes -= entryBytes(m);
      if (!call.write(messageToWire(m))) {
        this.waitingForDrain = true;
        call.once('drain', () => {
          if (this.stream !== call) return;
          this.waitingForDrain = false;
          this.pump();
        });
        break;
      }
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** The Send call ended: the peer went away (or, without error, closed the stream). */
  private ended(call: grpc.ClientWritableStream<RaftMessage>, err: grpc.ServiceError | null): void {
    if (this.stream !== call) return;
    if (err === null) {
      this.stream = null;
      this.clearConnectTimer();
      if (this.head < this.queue.length) this.open();
      return;
    }
    this.fail(call, err.details || err.message);
  }

  private fail(call: grpc.ClientWritableStream<RaftMessage>, reason: string): void {
    if (this.closed || this.stream !== call) return;
    this.stream = null;
    this.established = false;
    this.waitingForDrain = false;
    this.clearConnectTimer();
    call.cancel();
    this.dropped += this.queue.length - this.head;
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    if (!this.down) {
      this.down = true;
      this.events.log(`raft transport: ${this.id} at ${this.address} is unreachable: ${reason}`);
      this.events.unreachable(reason);
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed && this.stream === null) this.open();
    }, this.backoffMs);
    this.retryTimer.unref();
    this.backoffMs = Math.min(this.tuning.maxBackoffMs, this.backoffMs * 2);
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private clearTimers(): void {
    this.clearConnectTimer();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}

function entryBytes(m: Message): number {
  let n = 0;
  for (const e of m.entries) n += e.data.length;
  return n;
}
