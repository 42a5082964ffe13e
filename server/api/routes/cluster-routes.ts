// Status and membership: /health, /v1/, /v1/members, /v1/leader, /v1/isleader.

import type { Member } from '../../cluster/cluster-node.js';
import type { AgentStatus } from '../../dispatch/agent-executor-host.js';
import { ApiError } from '../api-error.js';
import type { ApiContext } from '../http-api.js';
import { pluginListing } from './plugin-routes.js';
import { json, type Route } from './route.js';

/** Dkron's member JSON (a serf member), filled from our cluster membership and, on the leader, its agents. */
function memberJson(m: Member, agent?: AgentStatus): Record<string, unknown> {
  const colon = m.address.lastIndexOf(':');
  return {
    id: m.name,
    Name: m.name,
    Addr: colon > 0 ? m.address.slice(0, colon) : m.address,
    Port: colon > 0 ? Number(m.address.slice(colon + 1)) : 0,
    Tags: { role: 'clocktower', ...agent?.tags, server: 'true', rpc_addr: m.address },
    Status: m.status === 'alive' ? 1 : 4,
    statusText: m.status,
    role: m.role,
    voter: m.voter,
  };
}

/** An agent that is not a server, as a Dkron member. */
function agentMemberJson(a: AgentStatus): Record<string, unknown> {
  return {
    id: a.node,
    Name: a.node,
    Addr: '',
    Port: 0,
    Tags: { role: 'clocktower', ...a.tags, server: 'false', version: a.version, transport: a.transport },
    Status: a.leaving ? 3 : 1,
    statusText: a.leaving ? 'leaving' : 'alive',
    role: 'agent',
    voter: false,
  };
}

function status(ctx: ApiContext) {
  return {
    ...(ctx.raftStatus ? { raft: ctx.raftStatus() } : {}),
    agent: { name: ctx.nodeName, version: ctx.version },
    cluster: { leader: ctx.cluster.leaderName(), is_leader: ctx.cluster.isLeader(), members: ctx.cluster.members().length },
    executors: ctx.dispatcher.executors(),
    plugins: pluginListing(ctx),
    tags: {},
  };
}

export const clusterRoutes: Route[] = [
  { method: 'GET', pattern: /^\/health$/, local: true, handle: () => json(200, { status: 'healthy' }) },
  { method: 'GET', pattern: /^\/v1$/, local: true, handle: (_req, ctx) => json(200, status(ctx)) },
  {
    method: 'GET',
    pattern: /^\/debug\/vars$/,
    local: true,
    handle: (req, ctx) => {
      // With node --expose-gc, ?gc collects garbage first, so benchmarks read live memory.
      const gc = (globalThis as { gc?: () => void }).gc;
      if (req.query.has('gc') && gc) gc();
      const m = process.memoryUsage();
      const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;
      return json(200, {
        node: ctx.nodeName,
        jobs: ctx.state.jobCount,
        scheduler_started: ctx.dispatcher.isLeading ? 1 : 0,
        memory: { rss_mb: mb(m.rss), heap_used_mb: mb(m.heapUsed), heap_total_mb: mb(m.heapTotal) },
      });
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/members$/,
    // The leader knows the agents too; a follower without a leader lists the servers.
    local: true,
    leader: true,
    handle: async (req, ctx) => {
      const agents = ctx.agents && ctx.cluster.isLeader() ? ctx.agents() : [];
      const servers = ctx.cluster.members();
      const byName = new Map(agents.map((a) => [a.node, a]));
      const serverNames = new Set(servers.map((m) => m.name));
      // Each server's term, commit and applied index: this one's own, the others' asked from their API at once.
      const positions = await Promise.all(servers.map((m) => (m.name === ctx.nodeName
        ? Promise.resolve(ctx.raftStatus?.() ?? null)
        : ctx.peerRaftStatus?.(m.name, req.headers).catch(() => null) ?? Promise.resolve(null))));
      const members = [
        ...servers.map((m, i) => {
          const raft = positions[i];
          return { ...memberJson(m, byName.get(m.name)), ...(raft ? { raft } : {}) };
        }),
        ...agents.filter((a) => !serverNames.has(a.node)).map(agentMemberJson),
      ];
      return json(200, members, { 'x-total-count': String(members.length) });
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/leader$/,
    local: true,
    handle: (_req, ctx) => {
      const leader = ctx.cluster.leaderName();
      const member = ctx.cluster.members().find((m) => m.name === leader);
      if (!member) throw new ApiError('CT_API_NOT_READY', 'there is no leader right now');
      return json(200, memberJson(member));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/isleader$/,
    local: true,
    handle: (_req, ctx) => (ctx.cluster.isLeader() ? json(200, 'I am a leader') : json(404, 'I am a follower')),
  },
];
