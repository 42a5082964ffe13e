// GET /v1/agents: the agents connected to the leader, their tags and load
// (a follower forwards the request to the leader).

import type { AgentStatus } from '../../dispatch/agent-executor-host.js';
import type { ApiContext } from '../http-api.js';
import { json, requireLeader, type Route } from './route.js';

function agentJson(a: AgentStatus): Record<string, unknown> {
  return {
    name: a.node,
    tags: a.tags,
    executors: a.executors,
    capacity: a.capacity,
    // Executions the leader has assigned to it and not seen finish.
    assigned: a.assigned,
    // As the agent last reported: running now, and waiting for a free slot.
    running: a.running,
    queued: a.queued,
    leaving: a.leaving,
    version: a.version,
    // grpc (a stream to --rpc-addr), local (the server's own agent) or pull (HTTP polls, README "Pull agents").
    transport: a.transport,
    // Batches go both ways on its stream (both ends accept them; README "Agent protocol").
    batches: a.batches,
    // Stream messages since it connected, and the items (assignments, stops, acks; outputs, results) they carried.
    stream: { messages_sent: a.stream.messagesOut, items_sent: a.stream.itemsOut, messages_received: a.stream.messagesIn, items_received: a.stream.itemsIn },
    last_seen: new Date(a.lastSeenMs).toISOString(),
  };
}

export const agentRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/agents$/,
    local: true,
    leader: true,
    handle: (_req, ctx: ApiContext) => {
      if (!ctx.agents) return json(200, [], { 'x-total-count': '0' });
      requireLeader(ctx);
      const list = ctx.agents().map(agentJson);
      return json(200, list, { 'x-total-count': String(list.length) });
    },
  },
];
