// Every route the API serves has an access rule, and every rule belongs to a
// route: a new route without a rule fails here (at run time it would be
// refused to every token but a management one).

import t from 'tap';
import { apiRoutes, routeKey } from '../../../server/api/http-api.js';
import { routeRules } from '../../../server/api/route-rules.js';

t.test('each route has a rule', async (t) => {
  t.ok(apiRoutes.length > 40, 'the route list is the real one');
  for (const route of apiRoutes) t.ok(Object.hasOwn(routeRules, routeKey(route)), `${routeKey(route)} has a rule`);
});

t.test('each rule has a route', async (t) => {
  const keys = new Set(apiRoutes.map(routeKey));
  for (const key of Object.keys(routeRules)) t.ok(keys.has(key), `the rule for ${key} belongs to a route`);
});

t.test('only /health, the UI\'s static files and the ODM callback (its per-task token is the credential) are open', async (t) => {
  t.same(Object.entries(routeRules).filter(([, r]) => r.kind === 'open').map(([k]) => k), ['GET /health', 'GET /', 'GET /ui', 'GET /ui/{file}', 'PATCH /v1/odm/callbacks/{taskId}/{token}']);
});
