// Cluster administration as the API offers it (GET /v1/raft/peers, removing a
// peer, POST /v1/leave): on the built-in Raft, and on etcd, where there are no
// Raft peers and leaving is stopping.
//
// A graceful leave on the built-in Raft: a leader first hands leadership to
// another voter, then the server asks the leader, over the Cluster service
// between servers (proto/cluster.proto, Leave), to remove it; a leader with
// no other voter removes itself. Right after a handover the new leader may not
// be known or ready yet, so the request is retried until a deadline.

import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { TlsFiles } from '../../common/tls.js';
import { requestLeave } from '../cluster/cluster-discovery.js';
import { ClusterError, type ServerClusterNode } from '../cluster/cluster-node.js';
import type { RaftNode } from '../cluster/raft-node.js';
import type { ClusterAdmin, PeerView } from '../cluster/cluster-admin.js';
import type { RaftPosition } from './leader-forwarding.js';


export interface RaftAdminOptions {
  readonly node: RaftNode<unknown>;
  /** Mutual TLS towards the other servers (null: plaintext). */
  readonly tls: TlsFiles | null;
  /** Called (on a later turn) once this server is out of the cluster: the server stops. */
  readonly requestStop: () => void;
  readonly log: (line: string) => void;
  /** How long leadership may take to move to another server (ms). */
  readonly handoverMs?: number;
  /** How long the leader may take to remove us, retries included (ms). */
  readonly removalMs?: number;
  /** The pause between two requests to remove us (ms). */
  readonly retryMs?: number;
}

function peersOf(node: ServerClusterNode<unknown>): PeerView[] {
  return node.members().map((m) => ({
    id: m.name, rpc_addr: m.address, http_addr: node.addressOf(m.name)?.http ?? '', leader: m.role === 'leader', voter: m.voter,
  }));
}

export function raftPosition(node: RaftNode<unknown>): RaftPosition {
  return { term: node.term(), commit_index: node.commitIndex(), applied_index: node.appliedIndex() };
}

export class RaftAdmin implements ClusterAdmin {
  constructor(private readonly options: RaftAdminOptions) {}

  peers(): PeerView[] {
    return peersOf(this.options.node);
  }

  async removePeer(id: string): Promise<void> {
    await this.options.node.changeMembership({ type: 'remove', node: id });
    this.options.log(`cluster: removed ${id}`);
  }

  async leave(): Promise<void> {
    await this.handOver();
    await this.removeSelf();
    this.options.log('cluster: left the cluster; stopping');
    setImmediate(this.options.requestStop);
  }

  /** On the leader: make another voter leader, and wait until this server has stepped down. */
  async handOver(): Promise<void> {
    const { node } = this.options;
    if (!node.isLeader()) return;
    const to = node.members().find((m) => m.voter && m.name !== node.nodeName)?.name;
    if (!to) return; // the only voter: it removes itself
    const ms = this.options.handoverMs ?? 10_000;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        unsubscribe();
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new ClusterError('CT_CLUSTER_NOT_LEADER', 'leadership did not move to another server')), ms);
      const unsubscribe = node.onLeadershipChange((leading) => { if (!leading) done(); });
      node.transferLeadership(to);
      if (!node.isLeader()) done();
    });
  }

  /** Have the leader remove this server (this server itself when it still leads), retrying until the deadline. */
  async removeSelf(): Promise<void> {
    const { node } = this.options;
    const deadline = Date.now() + (this.options.removalMs ?? 15_000);
    for (;;) {
      if (!node.members().some((m) => m.name === node.nodeName)) return;
      let problem: string;
      try {
        problem = await this.askToBeRemoved();
      } catch (err) {
        if ((err as Partial<ServiceError>).code === grpcStatus.UNIMPLEMENTED) {
          // A leader of a release before the Leave call (a rolling upgrade): no retry helps.
          throw new ClusterError('CT_CLUSTER_NOT_LEADER', `the leader ${node.leaderName() ?? '?'} runs a Clocktower without the Leave call: ` +
            `upgrade it first, or remove this server there with \`clocktower raft remove-peer --peer-id ${node.nodeName}\` and stop it`, { cause: err });
        }
        problem = err instanceof Error ? (err as Partial<ServiceError>).details || err.message : String(err);
      }
      if (problem === '') return;
      if (Date.now() > deadline) throw new ClusterError('CT_CLUSTER_NOT_LEADER', `the leader did not remove us: ${problem}`);
      await new Promise((r) => setTimeout(r, this.options.retryMs ?? 100));
    }
  }

  /** One attempt: '' once removed, else why not (yet). */
  private async askToBeRemoved(): Promise<string> {
    const { node, tls } = this.options;
    if (node.isLeader()) {
      await node.changeMembership({ type: 'remove', node: node.nodeName });
      return '';
    }
    const leader = node.leaderName();
    const rpc = leader ? node.addressOf(leader)?.rpc : undefined;
    if (!leader || !rpc) return 'no leader right now';
    const r = await requestLeave(rpc, node.nodeName, tls);
    if (r.error === '' && r.leader_rpc_addr === '') return '';
    return r.error !== '' ? r.error : `${leader} does not lead any more (it points to ${r.leader_rpc_addr})`;
  }
}

/** On etcd there are no Raft peers to manage: say so; leaving is stopping (the lease is revoked, another server leads at once). */
export function etcdAdmin(node: ServerClusterNode<unknown>, endpoints: readonly string[], requestStop: () => void, log: (line: string) => void): ClusterAdmin {
  return {
    store: `etcd at ${endpoints.join(',')}`,
    peers: () => peersOf(node),
    removePeer() {
      return Promise.resolve();
    },
    leave() {
      log('cluster: leaving (the etcd lease is revoked on stop, so another server leads at once); stopping');
      setImmediate(requestStop);
      return Promise.resolve();
    },
  };
}
