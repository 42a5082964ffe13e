// GET /v1/stats?days=N[&job=NAME]: finished executions per day (UTC, by finish time),
// succeeded and failed, oldest day first, today included, days without
// executions as zeros. Counted from the history the state keeps (the newest
// executions of each job), so older days can be short.

import { ApiError } from '../api-error.js';
import { canReadJob } from '../../security/acl-policy.js';
import type { ApiContext } from '../http-api.js';
import { json, type Route, type RouteRequest } from './route.js';

const dayMs = 86_400_000;
export const maxStatsDays = 366;

function stats(req: RouteRequest, ctx: ApiContext) {
  const raw = req.query.get('days');
  const days = raw === null ? 7 : Number(raw);
  if (!Number.isInteger(days) || days < 1 || days > maxStatsDays) {
    throw new ApiError('CT_API_BAD_QUERY', `days must be a whole number from 1 to ${maxStatsDays}`, 'days');
  }
  // One job only (its page's chart); a job that is not there (or that the caller may not read) is a 404.
  const only = req.query.get('job');
  if (only !== null && (!ctx.state.job(only) || !canReadJob(req.grants, only))) throw new ApiError('CT_STATE_JOB_NOT_FOUND', `job not found: ${only}`);
  const today = Math.floor(ctx.now() / dayMs);
  const first = today - days + 1;
  const rows = Array.from({ length: days }, (_, i) => ({ date: new Date((first + i) * dayMs).toISOString().slice(0, 10), succeeded: 0, failed: 0 }));
  const one = only === null ? undefined : ctx.state.job(only);
  for (const job of one ? [one] : ctx.state.jobs()) {
    if (!canReadJob(req.grants, job.name)) continue; // counts only what the caller may read
    for (const e of ctx.state.executionsOf(job.name) ?? []) {
      if (e.finishedAtMs === null) continue;
      const row = rows[Math.floor(e.finishedAtMs / dayMs) - first];
      if (!row) continue;
      if (e.state === 'succeeded') row.succeeded++;
      else row.failed++;
    }
  }
  const total = rows.reduce((n, r) => ({ succeeded: n.succeeded + r.succeeded, failed: n.failed + r.failed }), { succeeded: 0, failed: 0 });
  return json(200, { days, total, executions: rows });
}

export const statsRoutes: Route[] = [{ method: 'GET', pattern: /^\/v1\/stats$/, handle: stats }];
