// The agent's connection to the servers: dial one, follow its redirect to
// the leader, register, and hold one bidirectional stream (heartbeats,
// output and results out; assignments, stops and acknowledgements in). When
// the stream ends (leader change, server restart, network) it reconnects by
// itself, with backoff, to the last leader or any server it knows.
//
// To a server that accepts batches (Registered.accepts_batches) the outputs
// and results ready in one event-loop turn go as one AgentBatch (bounded;
// an output chunk past the bound goes alone); heartbeats never wait in one.
// The agent says it accepts the server's batches in its Register.

import * as grpc from '@grpc/grpc-js';
import { agentProto } from '../proto/load-proto.js';
import type { AgentClient as AgentGrpcClient } from '../proto/generated/clocktower/agent/v1/Agent.js';
import type { AgentMessage } from '../proto/generated/clocktower/agent/v1/AgentMessage.js';
import type { ServerMessage__Output } from '../proto/generated/clocktower/agent/v1/ServerMessage.js';
import type { AgentRunner } from './agent-runner.js';
import { grpcChannelCredentials, grpcChannelOptions, type TlsFiles } from '../common/tls.js';
import { Batcher } from '../common/batcher.js';
import type { Output } from '../proto/generated/clocktower/agent/v1/Output.js';
import type { Result } from '../proto/generated/clocktower/agent/v1/Result.js';

export interface AgentClientOptions {
  /** Servers' --rpc-addr to try (the agent learns the others from the first it reaches). */
  readonly servers: readonly string[];
  readonly runner: AgentRunner;
  readonly log?: (line: string) => void;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Mutual TLS: the server must show a server certificate from the CA (null: plaintext). */
  readonly tls?: TlsFiles | null;
  /** Send and accept batches (default true; false speaks as an older agent). */
  readonly batches?: boolean;
}

/** Encoded bytes of one AgentBatch, about (the server takes up to 64 MiB a message). */
const batchBytes = 1024 * 1024;
const batchItems = 1000;

type Outgoing = { readonly output: Output } | { readonly result: Result };

type SessionEnd = 'redirect' | 'refused' | 'failed' | 'ended';

const registerTimeoutMs = 5000;

export class AgentClient {
  private readonly known: string[];
  private leaderHint: string | null = null;
  private next = 0;
  private readonly clients = new Map<string, AgentGrpcClient>();
  private call: grpc.ClientDuplexStream<AgentMessage, ServerMessage__Output> | null = null;
  private connectedTo: string | null = null;
  private paused = false;
  private leaving = false;
  private closed = false;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly log: (line: string) => void;

  constructor(private readonly options: AgentClientOptions) {
    this.known = [...new Set(options.servers)];
    this.log = options.log ?? (() => {});
  }

  start(): void {
    this.loopDone = this.loop();
  }

  /** Stop connecting (this server's own agent while the server leads: it is attached directly then). */
  pause(): void {
    this.paused = true;
    this.call?.cancel();
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
  }

  /** Tell the server we leave, so it assigns nothing more (again after any reconnect). */
  leave(): void {
    this.leaving = true;
    this.write({ leave: {} });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.call?.cancel();
    this.wake?.();
    await this.loopDone;
    for (const c of this.clients.values()) c.close();
  }

  private write(m: AgentMessage): void {
    const call = this.call;
    if (call && this.connectedTo !== null) call.write(m);
  }

  private async loop(): Promise<void> {
    const initial = this.options.initialBackoffMs ?? 100;
    const max = this.options.maxBackoffMs ?? 1000;
    let backoff = initial;
    while (!this.closed) {
      if (this.paused) {
        await new Promise<void>((resolve) => { this.wake = resolve; });
        this.wake = null;
        continue;
      }
      const address = this.pickAddress();
      const end = await this.session(address);
      if (this.closed) break;
      if (end === 'redirect' && this.leaderHint !== null && this.leaderHint !== address) continue;
      if (end === 'ended') backoff = initial;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
      this.wake = null;
      backoff = Math.min(max, backoff * 2);
    }
  }

  private pickAddress(): string {
    if (this.leaderHint !== null) {
      const hint = this.leaderHint;
      this.leaderHint = null;
      return hint;
    }
    const address = this.known[this.next % this.known.length] as string;
    this.next++;
    return address;
  }

  private client(address: string): AgentGrpcClient {
    let c = this.clients.get(address);
    if (!c) {
      const Client = agentProto().clocktower.agent.v1.Agent;
      const tls = this.options.tls ?? null;
      c = new Client(address, tls ? grpcChannelCredentials(tls) : grpc.credentials.createInsecure(), {
        ...grpcChannelOptions(tls),
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.keepalive_permit_without_calls': 1,
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        // No gRPC retry buffer on the stream: grpc-js keeps up to 256 KiB of
        // written messages for retries and, after each message goes out,
        // copies what remains: O(n^2) over a burst of results (2 s of the
        // agent's 14 s of CPU for 40,000 executions). Without it a write
        // completes when sent and the rest wait in the stream's own queue.
        // The agent reconnects and re-sends unacknowledged results itself.
        'grpc.enable_retries': 0,
        'grpc.per_rpc_retry_buffer_size': 0,
      });
      this.clients.set(address, c);
    }
    return c;
  }

  /** One stream to one server, until it ends. */
  private session(address: string): Promise<SessionEnd> {
    const { runner } = this.options;
    return new Promise<SessionEnd>((resolve) => {
      const call = this.client(address).Connect();
      this.call = call;
      let registered = false;
      let heartbeat: NodeJS.Timeout | null = null;
      let outcome: SessionEnd = 'failed';
      let settled = false;
      /** The last write found the stream's buffer full (until 'drain'). */
      let full = false;
      const write = (msg: AgentMessage): boolean => {
        const ok = call.write(msg);
        if (!ok) full = true;
        return ok;
      };
      let batcher: Batcher<Outgoing> | null = null;
      const send = (msg: AgentMessage): boolean => {
        const b = batcher;
        if (b && msg.output) {
          // A chunk bigger than a batch goes alone, after what waits (the batcher's rule).
          b.push({ output: msg.output }, 16 + (msg.output.execution_id?.length ?? 0) + (msg.output.data?.length ?? 0));
          return !full;
        }
        if (b && msg.result) {
          b.push({ result: msg.result }, resultBytes(msg.result));
          return !full;
        }
        return write(msg);
      };
      const finish = () => {
        if (settled) return;
        settled = true;
        batcher?.clear();
        if (heartbeat) clearInterval(heartbeat);
        clearTimeout(registerTimer);
        if (registered) {
          runner.detach(send);
          this.log(`agent: disconnected from ${address}`);
        }
        this.connectedTo = null;
        if (this.call === call) this.call = null;
        call.end();
        resolve(outcome);
      };
      let heardAt = Date.now();
      // A server that accepts the connection and never answers (a black hole) must not hold the agent.
      const registerTimer = setTimeout(() => {
        this.log(`agent: ${address} did not answer the registration within ${registerTimeoutMs} ms`);
        call.cancel();
      }, registerTimeoutMs);
      call.on('data', (m: ServerMessage__Output) => {
        heardAt = Date.now();
        if (registered && m.msg === 'heartbeat') return;
        if (registered) {
          runner.handle(m);
          return;
        }
        if (m.msg === 'redirect') {
          const to = m.redirect?.leader_rpc_addr ?? '';
          this.leaderHint = to === '' ? null : to;
          if (to !== '' && !this.known.includes(to)) this.known.push(to);
          outcome = 'redirect';
          call.end();
          return;
        }
        if (m.msg === 'refused') {
          this.log(`agent: ${address} refused the registration: ${m.refused?.error ?? ''}`);
          outcome = 'refused';
          call.end();
          return;
        }
        if (m.msg === 'registered' && m.registered) {
          registered = true;
          clearTimeout(registerTimer);
          outcome = 'ended';
          this.connectedTo = address;
          for (const s of m.registered.servers) if (s !== '' && !this.known.includes(s)) this.known.push(s);
          this.log(`agent: registered with the leader ${m.registered.server} at ${address}`);
          if (this.leaving) call.write({ leave: {} });
          if (m.registered.accepts_batches && (this.options.batches ?? true)) {
            batcher = new Batcher<Outgoing>({
              maxBytes: batchBytes, maxItems: batchItems,
              send: (items) => {
                const only = items.length === 1 ? items[0] : undefined;
                if (only !== undefined) {
                  write(only);
                  return;
                }
                const outputs: Output[] = [];
                const results: Result[] = [];
                for (const it of items) {
                  if ('output' in it) outputs.push(it.output);
                  else results.push(it.result);
                }
                write({ batch: { outputs, results } });
              },
            });
          }
          runner.attach(send, m.registered.output_limit);
          call.on('drain', () => {
            full = false;
            runner.drained();
          });
          const every = Math.max(20, m.registered.heartbeat_ms);
          heartbeat = setInterval(() => {
            if (Date.now() - heardAt > 3 * every) {
              // A half-open connection (the server or the network went silent): give it up and reconnect.
              this.log(`agent: nothing from ${address} for ${Date.now() - heardAt} ms; reconnecting`);
              call.cancel();
              return;
            }
            const load = runner.load;
            write({ heartbeat: { running: load.running, queued: load.queued } });
          }, every);
        }
      });
      call.on('error', finish);
      call.on('end', finish);
      call.on('close', finish);
      write({ register: { ...runner.registration(), accepts_batches: this.options.batches ?? true } });
    });
  }
}

/** About the encoded bytes of a Result. */
function resultBytes(r: Result): number {
  let n = 64 + (r.execution_id?.length ?? 0) + (r.error?.length ?? 0) * 3 + (r.output_tail?.length ?? 0);
  for (const [k, v] of Object.entries(r.params_out ?? {})) n += 8 + (k.length + v.length) * 3;
  return n;
}
