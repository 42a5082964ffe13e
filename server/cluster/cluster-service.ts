// The server side of the Cluster gRPC service: who am I and whom do I know
// (bootstrap discovery), join (add a server to the running cluster), and
// leave (a server asks the leader to remove it).
//
// A join adds the server as a learner (a non-voter that receives the log),
// and the leader promotes it to voter once it has caught up, so a slow new
// server never weakens the quorum while it copies the log.

import type * as grpc from '@grpc/grpc-js';
import { callIdentity } from '../../common/tls.js';
import type { ClusterHandlers } from '../../proto/generated/clocktower/cluster/v1/Cluster.js';
import type { Identity, Identity__Output } from '../../proto/generated/clocktower/cluster/v1/Identity.js';
import type { RaftNode } from './raft-node.js';

export interface ClusterServiceOptions {
  readonly self: Identity__Output;
  /** Servers heard of so far (discovery adds to it). */
  readonly known: Map<string, Identity__Output>;
  /** The Raft node once it runs (null while still discovering). */
  node(): RaftNode<unknown> | null;
  readonly log?: (line: string) => void;
  /** How often the leader checks whether a learner has caught up (ms). */
  readonly promoteCheckMs?: number;
}

/** A learner within this many entries of the leader's log is promoted. */
const caughtUpSlack = 100;

export function clusterServiceHandlers(options: ClusterServiceOptions): ClusterHandlers {
  const promoting = new Set<string>();
  const log = options.log ?? (() => {});

  /** Promote `id` to voter once it has caught up; gives up if this server stops leading. */
  const promoteWhenCaughtUp = (node: RaftNode<unknown>, id: string) => {
    if (promoting.has(id)) return;
    promoting.add(id);
    const timer = setInterval(() => {
      if (!node.isLeader()) {
        clearInterval(timer);
        promoting.delete(id);
        return;
      }
      const match = node.replication().get(id) ?? 0;
      if (match + caughtUpSlack < node.lastIndex()) return;
      clearInterval(timer);
      node.changeMembership({ type: 'addVoter', node: id }).then(
        () => { promoting.delete(id); log(`cluster: ${id} caught up and is now a voter`); },
        (err: unknown) => { promoting.delete(id); log(`cluster: promoting ${id} failed, it will be retried on its next join: ${String(err)}`); },
      );
    }, options.promoteCheckMs ?? 200);
    timer.unref();
  };

  return {
    Identify(call: grpc.ServerUnaryCall<{ from: Identity__Output | null }, unknown>, callback: grpc.sendUnaryData<{ self: Identity; in_cluster: boolean; known: Identity[]; leader: string; members: Identity[] }>) {
      const from = call.request.from;
      if (from && from.node !== '' && from.node !== options.self.node) options.known.set(from.node, from);
      const node = options.node();
      const inCluster = node !== null && node.members().length > 0;
      const members = (node?.members() ?? []).map((m) => ({ node: m.name, rpc_addr: m.address, http_addr: node?.addressOf(m.name)?.http ?? '' }));
      callback(null, { self: options.self, in_cluster: inCluster, known: [...options.known.values()], leader: node?.leaderName() ?? '', members });
    },
    Join(call: grpc.ServerUnaryCall<{ node: Identity__Output | null }, unknown>, callback: grpc.sendUnaryData<{ error: string; leader_rpc_addr: string }>) {
      const joiner = call.request.node;
      const node = options.node();
      if (!joiner || joiner.node === '' || joiner.rpc_addr === '') return callback(null, { error: 'join: the request names no node and address', leader_rpc_addr: '' });
      if (node === null) return callback(null, { error: 'join: this server is not in a cluster yet', leader_rpc_addr: '' });
      if (!node.isLeader()) {
        const leader = node.leaderName();
        const addr = leader ? node.addressOf(leader)?.rpc ?? '' : '';
        return callback(null, { error: addr ? '' : 'join: there is no leader right now; retry', leader_rpc_addr: addr });
      }
      const member = node.members().find((m) => m.name === joiner.node);
      const address = { rpc: joiner.rpc_addr, http: joiner.http_addr };
      const known = member ? node.addressOf(joiner.node) : null;
      // A member that comes back at another address (a new pod IP, say): the
      // same role with the new address, replicated like any membership change.
      const moved = member !== undefined && (known?.rpc !== address.rpc || known.http !== address.http);
      // Nothing proves who sent a Join, so an address change is taken only
      // for a member that is gone from the address we have: never for this
      // leader itself, never for a member that still answers there.
      if (moved && (joiner.node === node.nodeName || node.answeredRecently(joiner.node))) {
        log(`cluster: refusing a join that moves ${joiner.node} to ${joiner.rpc_addr} (http ${joiner.http_addr}): it still answers at ${known?.rpc ?? '?'}`);
        return callback(null, { error: `join: ${joiner.node} still answers at ${known?.rpc ?? '?'}; an address change is taken once it no longer does`, leader_rpc_addr: '' });
      }
      const added = !member
        ? node.changeMembership({ type: 'addLearner', node: joiner.node, address }).then(() => undefined)
        : moved
          ? node.changeMembership({ type: member.voter ? 'addVoter' : 'addLearner', node: joiner.node, address }).then(() => undefined)
          : Promise.resolve();
      added.then(
        () => {
          if (!member?.voter) promoteWhenCaughtUp(node, joiner.node);
          log(`cluster: ${joiner.node} (${joiner.rpc_addr}) ${!member ? 'joined as a learner' : moved ? 'is back at a new address' : 'joined again'}`);
          callback(null, { error: '', leader_rpc_addr: '' });
        },
        (err: unknown) => callback(null, { error: `join: ${err instanceof Error ? err.message : String(err)}`, leader_rpc_addr: '' }),
      );
    },
    // With TLS only servers reach this service (see its registration), and a
    // certificate made for one server (--node) removes that server only.
    Leave(call: grpc.ServerUnaryCall<{ node: string }, unknown>, callback: grpc.sendUnaryData<{ error: string; leader_rpc_addr: string }>) {
      const leaver = call.request.node;
      const node = options.node();
      if (leaver === '') return callback(null, { error: 'leave: the request names no node', leader_rpc_addr: '' });
      const caller = callIdentity(call);
      if (caller?.node && caller.node !== leaver.toLowerCase()) {
        log(`cluster: refusing a leave for ${leaver} sent with the certificate of server ${caller.node}`);
        return callback(null, { error: `leave: the certificate of server ${caller.node} cannot remove ${leaver}`, leader_rpc_addr: '' });
      }
      if (node === null) return callback(null, { error: 'leave: this server is not in a cluster yet', leader_rpc_addr: '' });
      if (!node.isLeader()) {
        const leader = node.leaderName();
        const addr = leader ? node.addressOf(leader)?.rpc ?? '' : '';
        return callback(null, { error: addr ? '' : 'leave: there is no leader right now; retry', leader_rpc_addr: addr });
      }
      if (!node.members().some((m) => m.name === leaver)) return callback(null, { error: '', leader_rpc_addr: '' });
      node.changeMembership({ type: 'remove', node: leaver }).then(
        () => {
          log(`cluster: removed ${leaver} (it left)`);
          callback(null, { error: '', leader_rpc_addr: '' });
        },
        (err: unknown) => callback(null, { error: `leave: ${err instanceof Error ? err.message : String(err)}`, leader_rpc_addr: '' }),
      );
    },
  };
}
