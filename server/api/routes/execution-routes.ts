// Executions: history, one execution, busy (live), stop, delete history, skipped fires.

import { CommandType } from '../../state/commands.js';
import type { Execution } from '../../state/execution.js';
import { ApiError } from '../api-error.js';
import { canReadJob } from '../../security/acl-policy.js';
import type { ApiContext } from '../http-api.js';
import { executionToJson, notificationToJson, skipToJson } from '../job-json.js';
import type { NotificationState } from '../../state/notification.js';
import { intParam, jobJson } from './job-routes.js';
import { accepted, json, ownKey, pathParam, requireLeader, type Route, type RouteRequest } from './route.js';

function jobName(req: RouteRequest, ctx: ApiContext): string {
  const name = pathParam(req, 'name');
  if (!ctx.state.job(name)) throw new ApiError('CT_STATE_JOB_NOT_FOUND', `job not found: ${name}`);
  return name;
}

function mustExecution(req: RouteRequest, ctx: ApiContext): Execution {
  const name = jobName(req, ctx);
  const id = pathParam(req, 'id');
  const e = ctx.state.execution(id);
  if (!e || e.jobName !== name) throw new ApiError('CT_API_EXECUTION_NOT_FOUND', `job ${name} has no execution ${id}`);
  return e;
}

const sortKeys: Record<string, (e: Execution) => number> = {
  id: (e) => Number(e.id),
  started_at: (e) => e.startedAtMs ?? Infinity,
  finished_at: (e) => e.finishedAtMs ?? Infinity,
  scheduled_at: (e) => e.scheduledAtMs,
  attempt: (e) => e.attempt,
};

function liveOutput(ctx: ApiContext, e: Execution): Execution {
  const running = ctx.dispatcher.busy().find((r) => r.execution.id === e.id);
  return running ? { ...e, output: running.output.text(), outputTruncated: running.output.truncated } : e;
}

const notificationStates: readonly NotificationState[] = ['pending', 'delivered', 'failed'];

export const executionRoutes: Route[] = [
  {
    // Deliveries of every job the caller may read, newest first: ?state=failed finds what did not arrive.
    method: 'GET',
    pattern: /^\/v1\/notifications$/,
    handle: (req, ctx) => {
      const state = req.query.get('state');
      if (state !== null && !notificationStates.includes(state as NotificationState)) {
        throw new ApiError('CT_API_BAD_QUERY', `state must be one of ${notificationStates.join(', ')}, not ${JSON.stringify(state)}`);
      }
      const job = req.query.get('job');
      const list = [...ctx.state.notifications()]
        .filter((n) => (state === null || n.state === state) && (job === null || n.jobName === job) && canReadJob(req.grants, n.jobName))
        .sort((a, b) => b.createdAtMs - a.createdAtMs || Number(b.executionId) - Number(a.executionId) || (a.id < b.id ? -1 : 1));
      const start = intParam(req.query, '_start') ?? 0;
      const end = intParam(req.query, '_end') ?? list.length;
      return json(200, list.slice(start, end).map((n) => ({ job_name: n.jobName, execution_id: n.executionId, ...notificationToJson(n) })), {
        'x-total-count': String(list.length), 'access-control-expose-headers': 'X-Total-Count',
      });
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/jobs\/(?<name>[^/]+)\/executions$/,
    handle: (req, ctx) => {
      const name = jobName(req, ctx);
      const sortKey = req.query.get('_sort') ?? 'id';
      const key = ownKey(sortKeys, sortKey);
      if (!key) throw new ApiError('CT_API_BAD_QUERY', `cannot sort executions by ${sortKey}: use one of ${Object.keys(sortKeys).join(', ')}`);
      const desc = (req.query.get('_order') ?? 'DESC').toUpperCase() === 'DESC';
      const limit = intParam(req.query, 'output_size_limit');
      const list = [...(ctx.state.executionsOf(name) ?? [])].map((e) => liveOutput(ctx, e));
      list.sort((a, b) => (key(a) - key(b) || Number(a.id) - Number(b.id)) * (desc ? -1 : 1));
      const start = intParam(req.query, '_start') ?? 0;
      const end = intParam(req.query, '_end') ?? list.length;
      return json(200, list.slice(start, end).map((e) => executionToJson(e, limit, ctx.state.notificationsOf(e.id))), {
        'x-total-count': String(list.length), 'access-control-expose-headers': 'X-Total-Count',
      });
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/v1\/jobs\/(?<name>[^/]+)\/executions$/,
    handle: async (req, ctx) => {
      requireLeader(ctx);
      const name = jobName(req, ctx);
      const res = accepted(await ctx.log.submit({ type: CommandType.DeleteExecutions, atMs: ctx.now(), name }));
      return json(200, res.job ? jobJson(ctx, res.job, req.grants) : { name });
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/jobs\/(?<name>[^/]+)\/executions\/(?<id>[^/]+)$/,
    handle: (req, ctx) => {
      const e = liveOutput(ctx, mustExecution(req, ctx));
      return json(200, executionToJson(e, intParam(req.query, 'output_size_limit'), ctx.state.notificationsOf(e.id)));
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/jobs\/(?<name>[^/]+)\/executions\/(?<id>[^/]+)\/stop$/,
    body: true,
    handle: (req, ctx) => {
      const e = mustExecution(req, ctx);
      if (!ctx.dispatcher.stopExecution(e.id)) throw new ApiError('CT_API_NOT_RUNNING', `execution ${e.id} is not running (it is ${e.state})`);
      return json(202, executionToJson(e));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/jobs\/(?<name>[^/]+)\/skipped$/,
    handle: (req, ctx) => {
      const skips = [...(ctx.state.skipsOf(jobName(req, ctx)) ?? [])].reverse();
      return json(200, skips.map(skipToJson), { 'x-total-count': String(skips.length) });
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/busy$/,
    local: true,
    handle: (req, ctx) => {
      const busy = ctx.dispatcher.busy()
        .filter((r) => canReadJob(req.grants, r.execution.jobName))
        .map((r) => ({ ...r.execution, output: r.output.text(), outputTruncated: r.output.truncated }))
        .sort((a, b) => (a.startedAtMs ?? 0) - (b.startedAtMs ?? 0));
      return json(200, busy.map((e) => executionToJson(e)), { 'x-total-count': String(busy.length) });
    },
  },
];
