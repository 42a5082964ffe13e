// GET /metrics: every metric of this server in the Prometheus text format.
// Answered by the server asked (never forwarded): each server's counters
// count what that server did.

import { ApiError } from '../api-error.js';
import type { Route } from './route.js';

export const metricsRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/metrics$/,
    local: true,
    async handle(_req, ctx) {
      if (!ctx.metrics) throw new ApiError('CT_API_NOT_FOUND', 'this server exports no metrics');
      return { status: 200, body: await ctx.metrics.text(), contentType: ctx.metrics.contentType };
    },
  },
];
