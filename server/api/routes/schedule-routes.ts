// GET /v1/schedule/preview: the next fire times of a schedule in a zone, by
// the scheduler's own parser and nextFire, so a preview is what will fire.

import { ApiError } from '../api-error.js';
import { iso } from '../job-json.js';
import { intParam } from './job-routes.js';
import { json, type Route } from './route.js';

const maxCount = 100;

export const scheduleRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/schedule\/preview$/,
    local: true,
    handle: (req, ctx) => {
      const schedule = req.query.get('schedule');
      if (schedule === null || schedule.trim() === '') throw new ApiError('CT_API_BAD_QUERY', 'schedule is required, e.g. ?schedule=@every 1m', 'schedule');
      const timezone = req.query.get('timezone') ?? '';
      const count = intParam(req.query, 'count') ?? 10;
      if (count < 1 || count > maxCount) throw new ApiError('CT_API_BAD_QUERY', `count must be from 1 to ${maxCount}`, 'count');
      const fromParam = req.query.get('from');
      const from = fromParam === null ? ctx.now() : Date.parse(fromParam);
      if (Number.isNaN(from)) throw new ApiError('CT_API_BAD_QUERY', `from must be an RFC3339 time, not ${JSON.stringify(fromParam)}`, 'from');
      // With the name of a saved job of this schedule and zone: its own anchor (`@every` keeps its phase) and hash (`~`).
      const jobName = req.query.get('job') ?? '';
      const job = jobName === '' ? undefined : ctx.state.job(jobName);
      const anchor = job && job.schedule === schedule && job.timezone === timezone ? job.anchorMs : from;
      const fires = ctx.dispatcher.schedules.preview(schedule, timezone, from, count, jobName, anchor);
      return json(200, { schedule, timezone, description: ctx.dispatcher.schedules.describe(schedule, timezone, jobName), from: iso(from), next: fires.map((t) => iso(t)) });
    },
  },
];
