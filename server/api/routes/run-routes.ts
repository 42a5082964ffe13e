// /v1/runs: workflow runs, their tasks, stop and restart.

import type { Run, RunTask } from '../../state/run.js';
import { edgesOf } from '../../state/job.js';
import { canReadJob } from '../../security/acl-policy.js';
import { ApiError } from '../api-error.js';
import type { ApiContext } from '../http-api.js';
import { iso } from '../job-json.js';
import { intParam } from './job-routes.js';
import { accepted, json, pathParam, requireLeader, type Route, type RouteRequest } from './route.js';

const runStates = new Set(['running', 'succeeded', 'failed', 'stopped']);

/** A run; each task also names its upstream tasks in the run (by its job's edges now), for drawing the run as a graph. */
export function runToJson(run: Run, ctx: ApiContext): Record<string, unknown> {
  const inRun = new Set(run.tasks.map((t) => t.job));
  const upstream = (job: string) => {
    const j = ctx.state.job(job);
    return j ? edgesOf(j).map((e) => e.job).filter((u) => inRun.has(u)) : [];
  };
  return {
    id: run.id,
    root_job: run.rootJob,
    state: run.state,
    parameters: run.parameters,
    scheduled_at: iso(run.scheduledAtMs),
    created_at: iso(run.createdAtMs),
    finished_at: iso(run.finishedAtMs),
    reason: run.reason,
    tasks: run.tasks.map((t) => ({ ...taskToJson(t), upstream: upstream(t.job) })),
  };
}

function taskToJson(t: RunTask): Record<string, unknown> {
  return {
    job: t.job,
    state: t.state,
    execution_id: t.executionId,
    attempt: t.attempt,
    started_at: iso(t.startedAtMs),
    finished_at: iso(t.finishedAtMs),
    reason: t.reason,
    params_out: t.paramsOut,
    exit_code: t.exitCode,
  };
}

function mustRun(req: RouteRequest, ctx: ApiContext): Run {
  const id = pathParam(req, 'id');
  const run = ctx.state.run(id);
  if (!run) throw new ApiError('CT_STATE_RUN_NOT_FOUND', `run not found: ${id}`);
  return run;
}

export const runRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/runs$/,
    handle: (req, ctx) => {
      const job = req.query.get('job');
      const state = req.query.get('state');
      if (state !== null && !runStates.has(state)) throw new ApiError('CT_API_BAD_QUERY', `state must be one of ${[...runStates].join(', ')}`);
      const list: Run[] = [];
      for (const run of ctx.state.runs()) {
        if (!canReadJob(req.grants, run.rootJob)) continue; // only the runs of jobs the caller may read
        if (job !== null && run.rootJob !== job && !run.tasks.some((t) => t.job === job)) continue;
        if (state !== null && run.state !== state) continue;
        list.push(run);
      }
      list.reverse(); // newest first
      const start = intParam(req.query, '_start') ?? 0;
      const end = intParam(req.query, '_end') ?? list.length;
      return json(200, list.slice(start, end).map((r) => runToJson(r, ctx)), {
        'x-total-count': String(list.length), 'access-control-expose-headers': 'X-Total-Count',
      });
    },
  },
  { method: 'GET', pattern: /^\/v1\/runs\/(?<id>[^/]+)$/, handle: (req, ctx) => json(200, runToJson(mustRun(req, ctx), ctx)) },
  {
    method: 'POST',
    pattern: /^\/v1\/runs\/(?<id>[^/]+)\/stop$/,
    body: true,
    handle: async (req, ctx) => {
      requireLeader(ctx);
      const run = mustRun(req, ctx);
      accepted(await ctx.dispatcher.stopRun(run.id));
      return json(202, runToJson(ctx.state.run(run.id) ?? run, ctx));
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/runs\/(?<id>[^/]+)\/restart$/,
    body: true,
    handle: async (req, ctx) => {
      requireLeader(ctx);
      const run = mustRun(req, ctx);
      accepted(await ctx.dispatcher.restartRun(run.id));
      return json(202, runToJson(ctx.state.run(run.id) ?? run, ctx));
    },
  },
];
