// How a server with an empty data directory finds its cluster.
//
// With --bootstrap-expect N it asks every --join address who they are and
// whom they know, until it has heard of N servers (itself included) that
// are not in a cluster yet; then all N bootstrap the same membership. If any
// server it reaches already belongs to a cluster, it joins that cluster
// instead. Without --bootstrap-expect it only joins.

import * as grpc from '@grpc/grpc-js';
import { clusterProto } from '../../proto/load-proto.js';
import type { ClusterClient } from '../../proto/generated/clocktower/cluster/v1/Cluster.js';
import type { IdentifyResponse__Output } from '../../proto/generated/clocktower/cluster/v1/IdentifyResponse.js';
import type { Identity__Output } from '../../proto/generated/clocktower/cluster/v1/Identity.js';
import type { JoinResponse__Output } from '../../proto/generated/clocktower/cluster/v1/JoinResponse.js';
import type { LeaveResponse__Output } from '../../proto/generated/clocktower/cluster/v1/LeaveResponse.js';
import { grpcChannelCredentials, grpcChannelOptions, type TlsFiles } from '../../common/tls.js';

export type StartDecision =
  | { readonly kind: 'bootstrap'; readonly members: readonly Identity__Output[] }
  | { readonly kind: 'join'; readonly via: string; readonly members: readonly Identity__Output[] };

export interface DiscoveryOptions {
  readonly self: Identity__Output;
  readonly known: Map<string, Identity__Output>;
  readonly join: readonly string[];
  /** 0: never bootstrap, only join. */
  readonly bootstrapExpect: number;
  readonly retryMs?: number;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
  /** Mutual TLS towards the other servers (null: plaintext). */
  readonly tls?: TlsFiles | null;
}

function client(address: string, tls: TlsFiles | null): ClusterClient {
  const { Cluster } = clusterProto().clocktower.cluster.v1;
  return new Cluster(address, tls ? grpcChannelCredentials(tls) : grpc.credentials.createInsecure(), grpcChannelOptions(tls));
}

function unary<T>(address: string, tls: TlsFiles | null, call: (c: ClusterClient, deadline: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: T) => void) => void): Promise<T> {
  const c = client(address, tls);
  return new Promise<T>((resolve, reject) => {
    call(c, { deadline: Date.now() + 2000 }, (err, res) => {
      c.close();
      if (err || res === undefined) reject(err ?? new Error('empty answer'));
      else resolve(res);
    });
  });
}

export function identify(address: string, self: Identity__Output, tls: TlsFiles | null = null): Promise<IdentifyResponse__Output> {
  return unary<IdentifyResponse__Output>(address, tls, (c, opts, cb) => c.Identify({ from: self }, opts, cb));
}

function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('stopped'));
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); reject(new Error('stopped')); }, { once: true });
  });
}

export async function discover(options: DiscoveryOptions): Promise<StartDecision> {
  const { self, known } = options;
  if (options.bootstrapExpect === 1 && options.join.length === 0) return { kind: 'bootstrap', members: [self] };
  if (options.join.length === 0) throw new Error('nothing to join: give --join HOST:PORT, or --bootstrap-expect 1 to start a cluster of one');
  let lastProblem = '';
  for (;;) {
    const addresses = new Set([...options.join, ...[...known.values()].map((k) => k.rpc_addr)]);
    addresses.delete(self.rpc_addr);
    for (const address of addresses) {
      try {
        const r = await identify(address, self, options.tls ?? null);
        if (r.self && r.self.node !== self.node) known.set(r.self.node, r.self);
        for (const k of r.known) if (k.node !== self.node) known.set(k.node, k);
        if (r.in_cluster) {
          // Bootstrapped already; if we were one of its initial members, so are we.
          if (r.members.some((m) => m.node === self.node)) return { kind: 'bootstrap', members: r.members };
          return { kind: 'join', via: address, members: r.members };
        }
      } catch (err) {
        lastProblem = `${address}: ${(err as grpc.ServiceError).details || String(err)}`;
      }
    }
    if (options.bootstrapExpect > 0) {
      const members = [self, ...known.values()];
      if (members.length === options.bootstrapExpect) return { kind: 'bootstrap', members };
      if (members.length > options.bootstrapExpect) {
        throw new Error(`--bootstrap-expect ${options.bootstrapExpect}, but ${members.length} servers answered (${members.map((m) => m.node).join(', ')}): start each with the same --bootstrap-expect`);
      }
    }
    options.log?.(`cluster: waiting for servers (${known.size + 1} of ${options.bootstrapExpect || '?'} known${lastProblem ? `; last problem: ${lastProblem}` : ''})`);
    await wait(options.retryMs ?? 500, options.signal);
  }
}

/** Ask the leader (found through `via`: one server, or several tried in turn) to add us, or to take our new address. */
export async function joinCluster(via: string | readonly string[], self: Identity__Output, options: { retryMs?: number; signal?: AbortSignal; log?: (line: string) => void; tls?: TlsFiles | null } = {}): Promise<void> {
  const vias = typeof via === 'string' ? [via] : via;
  let attempt = 0;
  let address = vias[0] ?? '';
  let redirects = 0;
  for (;;) {
    if (options.signal?.aborted) throw new Error('stopped');
    try {
      const r = await unary<JoinResponse__Output>(address, options.tls ?? null, (c, opts, cb) => c.Join({ node: self }, opts, cb));
      if (r.error === '' && r.leader_rpc_addr === '') return;
      if (r.leader_rpc_addr !== '') {
        address = r.leader_rpc_addr;
        if (++redirects <= 3) continue;
      }
      options.log?.(`cluster: join via ${address} refused: ${r.error}`);
    } catch (err) {
      options.log?.(`cluster: join via ${address} failed: ${(err as grpc.ServiceError).details || String(err)}`);
      address = vias[++attempt % vias.length] ?? address;
    }
    redirects = 0;
    await wait(options.retryMs ?? 500, options.signal);
  }
}

/**
 * Ask the server at `address` (the leader) to remove `node` from the cluster,
 * once: an empty `error` and `leader_rpc_addr` when it is out; a redirect
 * when that server does not lead. Retrying is the caller's decision.
 */
export function requestLeave(address: string, node: string, tls: TlsFiles | null = null): Promise<LeaveResponse__Output> {
  return unary<LeaveResponse__Output>(address, tls, (c, opts, cb) => c.Leave({ node }, opts, cb));
}
