// GET /v1/pause, POST /v1/pause, POST /v1/unpause (newer Dkron). Unlike
// Dkron's node-local flag, the pause is replicated state: the whole cluster
// pauses, a restart or a new leader keeps it, and each scheduled fire while
// paused is recorded skipped with reason `paused`. Manual runs still work.

import { CommandType } from '../../state/commands.js';
import type { ApiContext } from '../http-api.js';
import { accepted, json, requireLeader, type Route } from './route.js';

async function setPaused(ctx: ApiContext, paused: boolean) {
  requireLeader(ctx);
  accepted(await ctx.log.submit({ type: CommandType.SetPaused, atMs: ctx.now(), paused }));
  return json(200, { paused: ctx.state.paused });
}

export const pauseRoutes: Route[] = [
  { method: 'GET', pattern: /^\/v1\/pause$/, handle: (_req, ctx) => json(200, { paused: ctx.state.paused }) },
  { method: 'POST', pattern: /^\/v1\/pause$/, body: true, handle: (_req, ctx) => setPaused(ctx, true) },
  { method: 'POST', pattern: /^\/v1\/unpause$/, body: true, handle: (_req, ctx) => setPaused(ctx, false) },
];
