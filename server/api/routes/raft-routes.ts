// Cluster administration: the Raft peers, removing one, and a graceful leave
// (Dkron's POST /v1/leave). Only servers running in a cluster offer these.

import { ApiError } from '../api-error.js';
import type { ApiContext } from '../http-api.js';
import { json, pathParam, type Route } from './route.js';

export interface RaftPeer {
  readonly id: string;
  readonly rpc_addr: string;
  readonly http_addr: string;
  readonly leader: boolean;
  readonly voter: boolean;
}

export interface ClusterAdmin {
  peers(): RaftPeer[];
  /** Remove a server from the cluster (runs on the leader). */
  removePeer(id: string): Promise<void>;
  /** Leave the cluster: hand leadership over if we hold it, have the leader remove us, then stop. */
  leave(): Promise<void>;
}

function admin(ctx: ApiContext): ClusterAdmin {
  if (!ctx.admin) throw new ApiError('CT_API_NOT_FOUND', 'this server does not run in a cluster (light mode): there are no Raft peers to manage');
  return ctx.admin;
}

export const raftRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/raft\/peers$/,
    local: true,
    handle: (_req, ctx) => json(200, admin(ctx).peers()),
  },
  {
    method: 'DELETE',
    pattern: /^\/v1\/raft\/peers\/(?<id>[^/]+)$/,
    handle: async (req, ctx) => {
      const id = pathParam(req, 'id');
      const a = admin(ctx);
      if (!a.peers().some((p) => p.id === id)) throw new ApiError('CT_API_NOT_FOUND', `no peer "${id}" in the cluster`);
      await a.removePeer(id);
      return json(200, { removed: id });
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/leave$/,
    local: true,
    handle: async (_req, ctx) => {
      await admin(ctx).leave();
      return json(200, { left: ctx.nodeName });
    },
  },
];
