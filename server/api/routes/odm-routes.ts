// The Open Data Mesh executor API, both ways.
//
// PATCH /v1/odm/callbacks/{taskId}/{token}: an executor service reports the
// result of a task an `odm` job posted. No API token: the per-task token in
// the path is the credential (only its hash is stored; the state compares
// it in constant time). A follower forwards it to the leader, or answers 503
// so that the service retries.
//
// POST /api/v1/up/executor/tasks, GET /api/v1/up/executor/tasks/{taskId}/status:
// Clocktower as an executor service. taskType names the job that runs.

import { CommandType } from '../../state/commands.js';
import type { InboundTask } from '../../state/odm-tasks.js';
import { canReadJob } from '../../security/acl-policy.js';
import { hashToken } from '../../dispatch/odm/odm-executor-host.js';
import { ApiError } from '../api-error.js';
import type { ApiContext } from '../http-api.js';
import { accepted, json, parseJson, pathParam, requireLeader, type Route, type RouteRequest } from './route.js';

function bodyObject(req: RouteRequest): Record<string, unknown> {
  const doc = parseJson(req.body);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ApiError('CT_API_BAD_JSON', 'the body must be a JSON object');
  return doc as Record<string, unknown>;
}

function callback(req: RouteRequest, ctx: ApiContext) {
  requireLeader(ctx);
  const taskId = pathParam(req, 'taskId');
  const token = pathParam(req, 'token');
  const body = bodyObject(req);
  // ODM's own code names the task `id`; the API spec says `taskId`: either, and it must be this task.
  const named = body['taskId'] ?? body['id'];
  if (named !== undefined && named !== null && String(named) !== taskId) {
    throw new ApiError('CT_API_INVALID_FIELD', `the body names task ${JSON.stringify(named)} but the path names ${JSON.stringify(taskId)}`, 'taskId');
  }
  const status = body['status'];
  if (status !== 'PROCESSED' && status !== 'FAILED') {
    throw new ApiError('CT_API_INVALID_FIELD', `status must be "PROCESSED" or "FAILED", not ${JSON.stringify(status)}`, 'status');
  }
  return { taskId, token, status, results: body['results'] ?? null, errors: body['errors'] ?? null } as const;
}

function taskJson(t: InboundTask): Record<string, unknown> {
  return {
    taskId: t.taskId,
    taskType: t.jobName,
    status: t.status,
    parameters: t.parameters,
    ...(t.results ? { results: t.results } : {}),
    callbackDelivered: t.delivered,
  };
}

export const odmRoutes: Route[] = [
  {
    method: 'PATCH',
    pattern: /^\/v1\/odm\/callbacks\/(?<taskId>[^/]+)\/(?<token>[^/]+)$/,
    body: true,
    async handle(req, ctx) {
      const c = callback(req, ctx);
      accepted(await ctx.log.submit({
        type: CommandType.OdmCallback, atMs: ctx.now(), taskId: c.taskId, tokenHash: hashToken(c.token), status: c.status, results: c.results, errors: c.errors,
      }));
      return json(200, { taskId: c.taskId, status: c.status });
    },
  },
  {
    method: 'POST',
    pattern: /^\/api\/v1\/up\/executor\/tasks$/,
    body: true,
    async handle(req, ctx) {
      requireLeader(ctx);
      const body = bodyObject(req);
      const field = (name: string, required: boolean): string => {
        const v = body[name];
        if (v === undefined && !required) return '';
        if (typeof v !== 'string' || v.trim() === '') throw new ApiError('CT_API_INVALID_FIELD', `${name} must be a non-empty string`, name);
        return v;
      };
      const taskId = field('taskId', true);
      const taskType = field('taskType', true);
      const callbackRef = field('callbackRef', false);
      if (callbackRef !== '') {
        let url: URL | null = null;
        try {
          url = new URL(callbackRef);
        } catch {
          url = null;
        }
        if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new ApiError('CT_API_INVALID_FIELD', `callbackRef must be an http(s) URL, not ${JSON.stringify(callbackRef)}`, 'callbackRef');
      }
      const parameters = body['parameters'] ?? {};
      if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) throw new ApiError('CT_API_INVALID_FIELD', 'parameters must be a JSON object', 'parameters');
      accepted(await ctx.dispatcher.runOdmTask({ taskId, jobName: taskType, callbackRef, parameters: parameters as Record<string, unknown> }));
      return json(201, { taskId, status: 'PROCESSING' }, { location: `/api/v1/up/executor/tasks/${encodeURIComponent(taskId)}/status` });
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/v1\/up\/executor\/tasks\/(?<taskId>[^/]+)\/status$/,
    handle(req, ctx) {
      const taskId = pathParam(req, 'taskId');
      const task = ctx.state.odm.task(taskId);
      // A task of a job the caller may not read is as unknown as one that never was.
      if (!task || !canReadJob(req.grants, task.jobName)) throw new ApiError('CT_STATE_ODM_TASK_NOT_FOUND', `no task ${taskId}`);
      return json(200, taskJson(task));
    },
  },
];
