// The first step of a server's start: open its command log. On the built-in
// Raft, an empty data directory bootstraps a cluster or joins one (see
// cluster-discovery.ts), and a data directory that holds a log says who we
// are; on etcd (--store etcd) the log and the leader election live there.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TlsFiles } from '../../common/tls.js';
import type { Identity__Output } from '../../proto/generated/clocktower/cluster/v1/Identity.js';
import { discover, joinCluster } from '../cluster/cluster-discovery.js';
import type { ReplicatedStateMachine } from '../cluster/cluster-node.js';
import { RaftNode, type RaftMessageTransport, type RaftMetrics } from '../cluster/raft-node.js';
import type { EtcdNode, EtcdSettings } from '../store-etcd/etcd-node.js';

type Log = (line: string, fields?: Readonly<Record<string, unknown>>) => void;

export interface OpenRaftOptions<R> {
  /** The data directory; the log is in its raft/ folder. */
  readonly dataDir: string;
  readonly self: Identity__Output;
  /** Servers heard of so far (discovery adds to it; the Cluster service reads it). */
  readonly known: Map<string, Identity__Output>;
  /** null: light mode, a cluster of this one server that talks to nobody. */
  readonly cluster: { readonly join: readonly string[]; readonly bootstrapExpect: number; readonly raftMultiplier: number } | null;
  readonly transport: RaftMessageTransport;
  readonly stateMachine: ReplicatedStateMachine<R>;
  readonly snapshotEvery: number;
  /** The log cannot be written: the node has stepped down and refuses writes. */
  readonly onFatal: (err: Error) => void;
  /** The node is open (before it joins a cluster): messages may be delivered to it. */
  readonly onOpen: (node: RaftNode<R>) => void;
  readonly log: Log;
  readonly metrics?: RaftMetrics;
  /** Mutual TLS towards the other servers (null: plaintext). */
  readonly tls: TlsFiles | null;
}

export interface OpenedRaft<R> {
  readonly node: RaftNode<R>;
  /** Stop telling the cluster a new address (if it still does), and close the node. */
  close(): Promise<void>;
}

export function raftDir(dataDir: string): string {
  return join(dataDir, 'raft');
}

/** Open the built-in Raft log: bootstrap, join, or carry on from the data directory. */
export async function openRaft<R>(options: OpenRaftOptions<R>): Promise<OpenedRaft<R>> {
  const { self, cluster, log } = options;
  const dir = raftDir(options.dataDir);
  const fresh = !existsSync(join(dir, 'hardstate'));
  let start: 'join' | { id: string; address: { rpc: string; http: string } }[] = [{ id: self.node, address: { rpc: self.rpc_addr, http: self.http_addr } }];
  let joinVia: string | null = null;
  let joinMembers: readonly Identity__Output[] = [];
  if (cluster && fresh) {
    const decision = await discover({ self, known: options.known, join: cluster.join, bootstrapExpect: cluster.bootstrapExpect, log, tls: options.tls });
    if (decision.kind === 'join') {
      start = 'join';
      joinVia = decision.via;
      joinMembers = decision.members;
    } else {
      start = decision.members.map((m) => ({ id: m.node, address: { rpc: m.rpc_addr, http: m.http_addr } }));
      log(`cluster: bootstrapping with ${decision.members.map((m) => m.node).join(', ')}`);
    }
  }

  const node = await RaftNode.open<R>({
    dir,
    nodeName: self.node,
    address: { rpc: self.rpc_addr, http: self.http_addr },
    start,
    transport: options.transport,
    tickMs: 100 * (cluster?.raftMultiplier ?? 1),
    snapshotEvery: options.snapshotEvery,
    stateMachine: options.stateMachine,
    onFatal: options.onFatal,
    log,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  options.onOpen(node);
  const stopAnnouncing = new AbortController();
  const close = async () => {
    stopAnnouncing.abort();
    await node.close();
  };
  try {
    if (!cluster && !fresh) refuseRenamedLightNode(options.dataDir, self.node, node.members().map((m) => m.name));
    if (joinVia !== null) {
      for (const m of joinMembers) node.introduce(m.node, { rpc: m.rpc_addr, http: m.http_addr });
      log(`cluster: joining via ${joinVia}`);
      await joinCluster(joinVia, self, { log, tls: options.tls });
    } else if (cluster && !fresh && cluster.join.length > 0) {
      // Back from the data dir at another address than the cluster has for us
      // (a new pod IP): tell the leader, through any server we were given.
      const recorded = node.addressOf(self.node);
      if (recorded && (recorded.rpc !== self.rpc_addr || recorded.http !== self.http_addr)) {
        log(`cluster: the cluster knows this server at ${recorded.rpc}; telling it the new address ${self.rpc_addr}`);
        void joinCluster(cluster.join.filter((a) => a !== self.rpc_addr), self, { log, signal: stopAnnouncing.signal, tls: options.tls }).catch(() => {});
      }
    }
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
  return { node, close };
}

/**
 * Light mode's one-server cluster names its only member after the node; a
 * restart under another name (the default is the hostname, which changes
 * when a container restarts) could never elect itself, so say so and how to
 * go on rather than wait for ever.
 */
export function refuseRenamedLightNode(dataDir: string, nodeName: string, members: readonly string[]): void {
  if (members.length === 0 || members.includes(nodeName)) return;
  const was = members.length === 1 ? `node "${members[0]}"` : `nodes ${members.map((m) => `"${m}"`).join(', ')}`;
  throw new Error(
    `the data directory ${dataDir} belongs to ${was}, and this node is named "${nodeName}" ` +
    `(the node name defaults to the hostname, which changes when a container restarts): ` +
    `start with --node-name ${members[0] ?? ''} to carry on with its jobs, or use another --data-dir to start afresh`,
  );
}

export interface OpenEtcdOptions<R> {
  readonly dataDir: string;
  readonly self: Identity__Output;
  readonly etcd: EtcdSettings;
  readonly stateMachine: ReplicatedStateMachine<R>;
  readonly snapshotEvery: number;
  readonly log: (line: string) => void;
}

/** Open the command log on etcd (--store etcd); a data directory holding a built-in Raft log is refused. */
export async function openEtcd<R>(options: OpenEtcdOptions<R>): Promise<EtcdNode<R>> {
  if (existsSync(join(raftDir(options.dataDir), 'hardstate'))) {
    // Its jobs are in that Raft log, not in etcd: starting on etcd would seem to lose them.
    throw new Error(`the data directory ${options.dataDir} holds a built-in Raft log: start without --store etcd to carry on with it, ` +
      'or use another --data-dir to run on etcd (Clocktower does not copy a Raft log into etcd)');
  }
  // Loaded only with --store etcd: the etcd client reads its protos when it loads.
  const { EtcdNode } = await import('../store-etcd/etcd-node.js');
  const node = await EtcdNode.open<R>({
    nodeName: options.self.node,
    address: { rpc: options.self.rpc_addr, http: options.self.http_addr },
    etcd: options.etcd,
    stateMachine: options.stateMachine,
    snapshotEvery: options.snapshotEvery,
    log: options.log,
  });
  options.log(`cluster: the command log and leader election run on etcd at ${options.etcd.endpoints.join(',')} under ${options.etcd.prefix}/`);
  return node;
}
