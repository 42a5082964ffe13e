// Cluster administration: the Raft peers, removing one, and a graceful leave
// (Dkron's POST /v1/leave). Only servers running in a cluster offer these.

import { ApiError } from '../api-error.js';
import type { ApiContext } from '../http-api.js';
import { json, pathParam, type Route } from './route.js';
import type { ClusterAdmin } from '../../cluster/cluster-admin.js';


function admin(ctx: ApiContext): ClusterAdmin {
  if (!ctx.admin) throw new ApiError('CT_API_NOT_FOUND', 'this server does not run in a cluster (light mode): there are no Raft peers to manage');
  return ctx.admin;
}

/** The Raft peer routes on a cluster that runs on etcd: explain, and point to what exists instead. */
function raftAdmin(ctx: ApiContext): ClusterAdmin {
  const a = admin(ctx);
  if (a.store !== undefined) {
    throw new ApiError('CT_API_NOT_FOUND', `this cluster runs on ${a.store} (--store etcd), not on the built-in Raft: it has no Raft peers. ` +
      'GET /v1/members lists the servers and /v1/leader the leader; a server leaves by stopping (or POST /v1/leave); ' +
      'etcd\'s own members, backups and compaction are managed with etcdctl');
  }
  return a;
}

export const raftRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/raft\/peers$/,
    local: true,
    handle: (_req, ctx) => json(200, raftAdmin(ctx).peers()),
  },
  {
    method: 'DELETE',
    pattern: /^\/v1\/raft\/peers\/(?<id>[^/]+)$/,
    handle: async (req, ctx) => {
      const id = pathParam(req, 'id');
      const a = raftAdmin(ctx);
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
