// What the leader sends one agent. To an agent that accepts batches
// (Register.accepts_batches), the assignments, stop requests and result
// acknowledgements made ready in one event-loop turn go out as one
// ServerBatch (bounded: see common/batcher.ts); to an older agent, one
// message each, as before. Control messages (Registered, heartbeat answers,
// Redirect) never wait in a batch: they are written at once, so a burst of
// assignments never delays them by more than what is already on the wire.
// The counters say how many stream messages carried how many items (for
// /v1/agents and the tests).

import type { Assign } from '../../proto/generated/clocktower/agent/v1/Assign.js';
import type { ServerMessage } from '../../proto/generated/clocktower/agent/v1/ServerMessage.js';
import { Batcher } from '../../common/batcher.js';
import type { AgentLink } from './agent-registry.js';

/** Encoded bytes of one batch, about (gRPC's limit on both ends is 64 MiB). */
export const defaultBatchBytes = 1024 * 1024;
/** Items in one batch: the agent handles a batch in one go, so heartbeats wait for at most this many. */
export const defaultBatchItems = 1000;

type Item = { readonly assign: Assign } | { readonly stop: string } | { readonly ack: string };

export interface StreamCounters {
  /** Stream messages sent to the agent, and the assignments, stops and acks they carried. */
  messagesOut: number;
  itemsOut: number;
  /** Stream messages received from it, and the outputs and results they carried. */
  messagesIn: number;
  itemsIn: number;
}

export interface OutboxOptions {
  readonly maxBytes?: number;
  readonly maxItems?: number;
  readonly defer?: (fn: () => void) => void;
}

export class AgentOutbox {
  readonly counters: StreamCounters = { messagesOut: 0, itemsOut: 0, messagesIn: 0, itemsIn: 0 };
  private readonly batcher: Batcher<Item> | null;

  constructor(private readonly link: AgentLink, readonly batches: boolean, options: OutboxOptions = {}) {
    this.batcher = batches
      ? new Batcher<Item>({
        maxBytes: options.maxBytes ?? defaultBatchBytes, maxItems: options.maxItems ?? defaultBatchItems,
        ...(options.defer ? { defer: options.defer } : {}),
        send: (items) => this.sendBatch(items),
      })
      : null;
  }

  assign(a: Assign): void {
    if (this.batcher) this.batcher.push({ assign: a }, assignBytes(a));
    else this.write({ assign: a }, 1);
  }

  stop(id: string): void {
    if (this.batcher) this.batcher.push({ stop: id }, id.length + 8);
    else this.write({ stop: { execution_id: id } }, 1);
  }

  ack(id: string): void {
    if (this.batcher) this.batcher.push({ ack: id }, id.length + 8);
    else this.write({ ack: { execution_id: id } }, 1);
  }

  /** A message that waits for nothing (it carries no assignment, stop or ack). */
  control(m: ServerMessage): void {
    this.write(m, 0);
  }

  /** A stream message came from the agent, carrying `items` outputs and results. */
  received(items: number): void {
    this.counters.messagesIn++;
    this.counters.itemsIn += items;
  }

  /** Send what waits now (before the stream ends). */
  flush(): void {
    this.batcher?.flush();
  }

  /** The link is gone: what waits is dropped (the agent's reconnect brings it back). */
  clear(): void {
    this.batcher?.clear();
  }

  private sendBatch(items: Item[]): void {
    const only = items.length === 1 ? items[0] : undefined;
    if (only !== undefined) {
      // One alone goes as the plain message.
      if ('assign' in only) this.write({ assign: only.assign }, 1);
      else if ('stop' in only) this.write({ stop: { execution_id: only.stop } }, 1);
      else this.write({ ack: { execution_id: only.ack } }, 1);
      return;
    }
    const assigns: Assign[] = [];
    const stops: { execution_id: string }[] = [];
    const acks: { execution_id: string }[] = [];
    for (const it of items) {
      if ('assign' in it) assigns.push(it.assign);
      else if ('stop' in it) stops.push({ execution_id: it.stop });
      else acks.push({ execution_id: it.ack });
    }
    this.write({ batch: { assigns, stops, acks } }, items.length);
  }

  private write(m: ServerMessage, items: number): void {
    this.counters.messagesOut++;
    this.counters.itemsOut += items;
    this.link.send(m);
  }
}

/** About the encoded bytes of an Assign. */
export function assignBytes(a: Assign): number {
  let n = 48 + (a.execution_id?.length ?? 0) + byteLength(a.job_name) + byteLength(a.executor);
  for (const [k, v] of Object.entries(a.config ?? {})) n += 8 + byteLength(k) + byteLength(v);
  for (const [k, v] of Object.entries(a.params ?? {})) n += 8 + byteLength(k) + byteLength(v);
  return n;
}

function byteLength(s: string | undefined): number {
  if (s === undefined) return 0;
  // Cheap for the common ASCII case: UTF-8 is at most 3 bytes per UTF-16 unit.
  return s.length < 256 ? s.length * 3 : Buffer.byteLength(s);
}
