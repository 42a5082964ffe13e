// The gRPC transport between Raft servers (proto/raft.proto).
//
// Receiving: a gRPC server whose Send streams deliver each peer's messages in
// order to onMessage, and whose InstallSnapshot calls reassemble a snapshot
// and deliver it as one 'snap' message. Messages addressed to another server,
// from a server that is not a peer (setPeer: the members the node knows), or
// malformed, are dropped (and logged once per kind). A snapshot larger than
// maxSnapshotBytes, or a chunk larger than maxChunkBytes, is refused; a
// snapshot's memory grows with the data received, never with what its header
// announces.
//
// Sending: one RaftPeer per peer (its own stream, queue and reconnect), so a
// slow or dead peer never holds up the others. send() never blocks and never
// throws; what cannot be delivered is dropped, as Raft expects of a network.
//
// Callbacks to the caller (onUnreachable, onSnapshotStatus) never run inside
// a call to the transport: they are queued as microtasks, so the driver can
// call back into the Raft core from them. A snapshot in flight to a peer that
// is removed, re-addressed or blocked is reported as failed; after close()
// nothing is reported.

import * as grpc from '@grpc/grpc-js';
import { raftProto } from '../../proto/load-proto.js';
import type { RaftHandlers } from '../../proto/generated/clocktower/raft/v1/Raft.js';
import type { RaftMessage__Output } from '../../proto/generated/clocktower/raft/v1/RaftMessage.js';
import type { SendAck } from '../../proto/generated/clocktower/raft/v1/SendAck.js';
import type { SnapshotAck } from '../../proto/generated/clocktower/raft/v1/SnapshotAck.js';
import type { SnapshotChunk__Output } from '../../proto/generated/clocktower/raft/v1/SnapshotChunk.js';
import type { SnapshotHeader__Output } from '../../proto/generated/clocktower/raft/v1/SnapshotHeader.js';
import type { Message } from '../raft/types.js';
import { messageFromWire, snapshotMessageFromWire, snapshotSize } from './raft-codec.js';
import { RaftPeer, type PeerTuning } from './raft-peer.js';
import { TransportError } from './transport-error.js';

export interface RaftTransportOptions {
  /** This server's id: messages to anyone else are dropped. */
  readonly self: string;
  /** host:port to listen on (port 0 picks a free one). */
  readonly listen: string;
  /** Each received message, in order per sender. */
  onMessage(m: Message): void;
  /** A peer could not be reached (once per failure episode, or per setBlocked episode). */
  onUnreachable?(peer: string): void;
  /** How a snapshot sent to a peer ended: true once the peer has all of it. */
  onSnapshotStatus?(peer: string, ok: boolean): void;
  log?(line: string): void;
  /** Most messages waiting for one peer (default 4096); the oldest is dropped beyond it. */
  readonly maxQueue?: number;
  /** Most bytes of entries waiting for one peer (default 64 MiB); the oldest messages are dropped beyond it. */
  readonly maxQueueBytes?: number;
  /** How long a peer may take to answer a new stream before it counts as down (default 2000 ms). */
  readonly connectTimeoutMs?: number;
  /** Reconnect backoff: first delay (default 50 ms), doubling up to the cap (default 1000 ms). */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** The largest snapshot accepted (default 2 GiB); a header announcing more is refused. */
  readonly maxSnapshotBytes?: number;
  /** The largest snapshot data chunk accepted (default 4 MiB; senders use 1 MiB). */
  readonly maxChunkBytes?: number;
}

export const defaultMaxSnapshotBytes = 2 * 1024 * 1024 * 1024;
export const defaultMaxChunkBytes = 4 * 1024 * 1024;

export interface TransportStats {
  /** Messages handed to onMessage. */
  readonly delivered: number;
  /** Messages received and dropped (blocked or unknown sender, wrong `to`, malformed). */
  readonly droppedIn: number;
  /** Messages to send that were dropped (peer down or blocked, queue full, no address). */
  readonly droppedOut: number;
}

/** The largest message (or snapshot chunk) the server accepts. */
const maxReceiveBytes = 64 * 1024 * 1024;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function splitHostPort(address: string): { host: string; port: string } {
  const i = address.lastIndexOf(':');
  if (i <= 0) throw new TransportError('CT_TRANSPORT_BIND', `listen address ${address} is not host:port`);
  return { host: address.slice(0, i), port: address.slice(i + 1) };
}

export class RaftTransport {
  private readonly server = new grpc.Server({
    'grpc.max_receive_message_length': maxReceiveBytes,
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
  });
  private readonly peers = new Map<string, RaftPeer>();
  private readonly blocked = new Set<string>();
  /** Blocked peers already reported unreachable in this blocked episode. */
  private readonly blockedReported = new Set<string>();
  private readonly logged = new Set<string>();
  private readonly tuning: PeerTuning;
  private readonly log: (line: string) => void;
  private started = false;
  private closed = false;
  private delivered = 0;
  private droppedIn = 0;
  /** Dropped outgoing messages not counted by a current peer (blocked, no address, removed peers). */
  private droppedOut = 0;

  constructor(private readonly options: RaftTransportOptions) {
    this.log = options.log ?? (() => {});
    this.tuning = {
      maxQueue: options.maxQueue ?? 4096,
      maxQueueBytes: options.maxQueueBytes ?? 64 * 1024 * 1024,
      connectTimeoutMs: options.connectTimeoutMs ?? 2000,
      initialBackoffMs: options.initialBackoffMs ?? 50,
      maxBackoffMs: options.maxBackoffMs ?? 1000,
    };
    const handlers: RaftHandlers = {
      Send: (call, callback) => this.serveSend(call, callback),
      InstallSnapshot: (call, callback) => this.serveSnapshot(call, callback),
    };
    this.server.addService(raftProto().clocktower.raft.v1.Raft.service, handlers);
  }

  /** Add another gRPC service to the same server; only before start(). */
  addService<I extends grpc.UntypedServiceImplementation>(service: grpc.ServiceDefinition<I>, implementation: I): void {
    if (this.started || this.closed) throw new TransportError('CT_TRANSPORT_MISUSE', 'addService() must come before start()');
    this.server.addService(service, implementation);
  }

  /** Binds the listen address; resolves with the bound host:port. */
  async start(): Promise<string> {
    if (this.closed) throw new TransportError('CT_TRANSPORT_CLOSED', 'the Raft transport is closed');
    if (this.started) throw new TransportError('CT_TRANSPORT_MISUSE', 'start() was already called');
    this.started = true;
    const { host } = splitHostPort(this.options.listen);
    const port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(this.options.listen, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err) reject(new TransportError('CT_TRANSPORT_BIND', `cannot listen for Raft peers on ${this.options.listen}: ${err.message}`, { cause: err }));
        else resolve(bound);
      });
    });
    return `${host}:${port}`;
  }

  /** Where to reach a peer; replaces the connection if the address changed. */
  setPeer(id: string, address: string): void {
    if (this.closed || id === this.options.self) return;
    const old = this.peers.get(id);
    if (old?.address === address) return;
    if (old !== undefined) {
      old.close();
      this.droppedOut += old.dropped;
    }
    this.peers.set(id, new RaftPeer(id, address, this.tuning, {
      unreachable: () => this.reportUnreachable(id),
      snapshotStatus: (ok) => this.later(() => this.options.onSnapshotStatus?.(id, ok)),
      log: this.log,
    }));
    this.logged.delete(`unknown peer ${id}`);
  }

  removePeer(id: string): void {
    const peer = this.peers.get(id);
    if (peer === undefined) return;
    peer.close();
    this.droppedOut += peer.dropped;
    this.peers.delete(id);
  }

  /** Queues messages for their peers; never blocks, never throws. */
  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const m of messages) {
      try {
        this.sendOne(m);
      } catch (err) {
        this.logOnce(`send ${m.type}`, `raft transport: could not send ${m.type} to ${m.to}: ${errorText(err)}`);
      }
    }
  }

  /** Test switch: drop everything to and from this peer (on this side). */
  setBlocked(peer: string, blocked: boolean): void {
    if (blocked) {
      this.blocked.add(peer);
      this.peers.get(peer)?.dropQueued();
    } else {
      this.blocked.delete(peer);
      this.blockedReported.delete(peer);
    }
  }

  stats(): TransportStats {
    let droppedOut = this.droppedOut;
    for (const peer of this.peers.values()) droppedOut += peer.dropped;
    return { delivered: this.delivered, droppedIn: this.droppedIn, droppedOut };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    // Peers hold their streams open; waiting for them to end would never finish.
    this.server.forceShutdown();
  }

  private sendOne(m: Message): void {
    if (this.blocked.has(m.to)) {
      this.droppedOut++;
      if (!this.blockedReported.has(m.to)) {
        this.blockedReported.add(m.to);
        this.reportUnreachable(m.to);
      }
      if (m.type === 'snap') this.later(() => this.options.onSnapshotStatus?.(m.to, false));
      return;
    }
    const peer = this.peers.get(m.to);
    if (peer === undefined) {
      this.droppedOut++;
      this.logOnce(`unknown peer ${m.to}`, `raft transport: no address for ${m.to}; dropping messages to it`);
      if (m.type === 'snap') this.later(() => this.options.onSnapshotStatus?.(m.to, false));
      return;
    }
    if (m.type !== 'snap') peer.send(m);
    else if (m.snapshot !== null) peer.sendSnapshot(m, m.snapshot);
    else this.logOnce('snap without snapshot', `raft transport: dropping a snap message to ${m.to} without a snapshot`);
  }

  private reportUnreachable(peer: string): void {
    this.later(() => this.options.onUnreachable?.(peer));
  }

  /** Runs a callback after the current call (never inside send()), unless closed by then. */
  private later(fn: () => void): void {
    queueMicrotask(() => {
      if (!this.closed) fn();
    });
  }

  private logOnce(key: string, line: string): void {
    if (this.logged.has(key)) return;
    this.logged.add(key);
    this.log(line);
  }

  /** True if a received message should reach onMessage. */
  private accept(from: string, to: string): boolean {
    if (this.closed) return false;
    if (this.blocked.has(from)) {
      this.droppedIn++;
      return false;
    }
    if (!this.peers.has(from)) {
      this.droppedIn++;
      this.logOnce(`not a peer ${from}`, `raft transport: ${this.options.self} dropping messages from ${JSON.stringify(from)}, which is not a member it knows`);
      return false;
    }
    if (to !== this.options.self) {
      this.droppedIn++;
      this.logOnce(`wrong to ${from}->${to}`, `raft transport: ${this.options.self} dropping messages from ${from} addressed to ${to}`);
      return false;
    }
    return true;
  }

  private deliver(m: Message): void {
    this.delivered++;
    try {
      this.options.onMessage(m);
    } catch (err) {
      this.log(`raft transport: onMessage failed on ${m.type} from ${m.from}: ${errorText(err)}`);
    }
  }

  private serveSend(call: grpc.ServerReadableStream<RaftMessage__Output, SendAck>, callback: grpc.sendUnaryData<SendAck>): void {
    // Headers at once: the sender counts the stream as up when they arrive.
    call.sendMetadata(new grpc.Metadata());
    call.on('data', (w: RaftMessage__Output) => {
      if (!this.accept(w.from, w.to)) return;
      let m: Message;
      try {
        m = messageFromWire(w);
      } catch (err) {
        this.droppedIn++;
        this.logOnce(`bad from ${w.from}`, `raft transport: dropping a malformed message from ${w.from}: ${errorText(err)}`);
        return;
      }
      this.deliver(m);
    });
    call.on('error', () => {});
    call.on('end', () => callback(null, {}));
  }

  private serveSnapshot(call: grpc.ServerReadableStream<SnapshotChunk__Output, SnapshotAck>, callback: grpc.sendUnaryData<SnapshotAck>): void {
    call.sendMetadata(new grpc.Metadata());
    const maxSnapshot = this.options.maxSnapshotBytes ?? defaultMaxSnapshotBytes;
    const maxChunk = this.options.maxChunkBytes ?? defaultMaxChunkBytes;
    let header: SnapshotHeader__Output | null = null;
    let size = 0;
    let chunks: Buffer[] | null = null;
    let received = 0;
    let failed = false;
    const fail = (code: grpc.status, details: string) => {
      if (failed) return;
      failed = true;
      chunks = null;
      this.logOnce(`snapshot ${details}`, `raft transport: refusing a snapshot: ${details}`);
      callback({ code, details });
    };
    call.on('data', (chunk: SnapshotChunk__Output) => {
      if (failed) return;
      try {
        if (header === null) {
          if (chunk.header === undefined || chunk.header === null || chunk.header.message === null) {
            fail(grpc.status.INVALID_ARGUMENT, 'the first chunk is not a header');
            return;
          }
          const { from, to } = chunk.header.message;
          if (!this.accept(from, to)) {
            fail(grpc.status.UNAVAILABLE, `${this.options.self} does not take snapshots from ${from} to ${to} now`);
            return;
          }
          size = snapshotSize(chunk.header);
          if (size > maxSnapshot) {
            fail(grpc.status.RESOURCE_EXHAUSTED, `a snapshot of ${size} bytes from ${from} is larger than the ${maxSnapshot} bytes allowed`);
            return;
          }
          header = chunk.header;
          chunks = [];
          return;
        }
        if (chunk.data === undefined || chunks === null) {
          fail(grpc.status.INVALID_ARGUMENT, 'a second header');
          return;
        }
        if (chunk.data.length > maxChunk) {
          fail(grpc.status.RESOURCE_EXHAUSTED, `a snapshot chunk of ${chunk.data.length} bytes is larger than the ${maxChunk} bytes allowed`);
          return;
        }
        if (received + chunk.data.length > size) {
          fail(grpc.status.INVALID_ARGUMENT, `more data than the ${size} bytes announced`);
          return;
        }
        chunks.push(chunk.data);
        received += chunk.data.length;
      } catch (err) {
        fail(grpc.status.INVALID_ARGUMENT, errorText(err));
      }
    });
    call.on('error', () => {
      failed = true;
      chunks = null;
    });
    call.on('end', () => {
      if (failed) return;
      if (header === null || chunks === null) {
        fail(grpc.status.INVALID_ARGUMENT, 'no header');
        return;
      }
      if (received !== size) {
        fail(grpc.status.INVALID_ARGUMENT, `got ${received} of ${size} bytes`);
        return;
      }
      const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      chunks = null;
      if (!this.accept(header.message?.from ?? '', header.message?.to ?? '')) {
        fail(grpc.status.UNAVAILABLE, 'blocked or closed');
        return;
      }
      let m: Message;
      try {
        m = snapshotMessageFromWire(header, data);
      } catch (err) {
        fail(grpc.status.INVALID_ARGUMENT, errorText(err));
        return;
      }
      this.deliver(m);
      callback(null, {});
    });
  }
}
