// Every route's access rule, in one table: `METHOD /pattern` -> what the
// caller needs. A route without a rule is refused (403) for every token but
// a management one, and a test enumerates the API's routes against this
// table, so a new route cannot ship without a rule.

import type { Requirement } from '../security/acl-policy.js';

const open: Requirement = { kind: 'open' };
const any: Requirement = { kind: 'any' };
const jobs: Requirement = { kind: 'jobs' };
const job = (level: 'read' | 'run' | 'write', from: 'path' | 'body' | 'taskType' | 'run' = 'path'): Requirement => ({ kind: 'job', level, from });
const operator = (level: 'read' | 'write'): Requirement => ({ kind: 'operator', level });
const acl = (level: 'read' | 'write'): Requirement => ({ kind: 'acl', level });

export const routeRules: Readonly<Record<string, Requirement>> = {
  'GET /health': open,
  // The UI's static files carry no data: the UI asks for a token itself.
  'GET /': open,
  'GET /ui': open,
  'GET /ui/{file}': open,
  'GET /v1/schedule/preview': any,
  'GET /v1/jobs/{name}/executions/{id}/stream': job('read'),
  'GET /v1': any,
  'GET /v1/leader': any,
  'GET /v1/isleader': any,
  'GET /v1/plugins': any,
  'GET /v1/members': operator('read'),
  'GET /debug/vars': operator('read'),
  'GET /metrics': operator('read'),
  'GET /v1/agents': operator('read'),
  // Pull agents receive jobs' executor configs (secrets included) and run them: an agent is a cluster member.
  'POST /v1/pull/register': operator('write'),
  'POST /v1/pull/poll': operator('write'),
  'POST /v1/pull/output': operator('write'),
  'POST /v1/pull/results': operator('write'),
  'POST /v1/pull/leave': operator('write'),
  'GET /v1/raft/peers': operator('read'),
  'DELETE /v1/raft/peers/{id}': operator('write'),
  'POST /v1/leave': operator('write'),
  'GET /v1/pause': operator('read'),
  'POST /v1/pause': operator('write'),
  'POST /v1/unpause': operator('write'),
  'POST /v1/restore': operator('write'),

  'GET /v1/jobs': jobs,
  'GET /v1/busy': jobs,
  'GET /v1/notifications': jobs,
  'GET /v1/stats': jobs,
  'POST /v1/jobs': job('write', 'body'),
  'PATCH /v1/jobs': job('write', 'body'),
  'GET /v1/jobs/{name}': job('read'),
  'PUT /v1/jobs/{name}': job('write'),
  'DELETE /v1/jobs/{name}': job('write'),
  'POST /v1/jobs/{name}': job('run'),
  'POST /v1/jobs/{name}/run': job('run'),
  'POST /v1/jobs/{name}/toggle': job('write'),
  'GET /v1/jobs/{name}/executions': job('read'),
  'DELETE /v1/jobs/{name}/executions': job('write'),
  'GET /v1/jobs/{name}/executions/{id}': job('read'),
  'POST /v1/jobs/{name}/executions/{id}/stop': job('run'),
  'GET /v1/jobs/{name}/skipped': job('read'),
  'GET /v1/jobs/{name}/versions': job('read'),
  'GET /v1/jobs/{name}/versions/{n}': job('read'),
  'POST /v1/jobs/{name}/versions/{n}/restore': job('write'),

  // Open Data Mesh: an executor service's callback carries its per-task token in the path (its only credential);
  // an ODM platform handing Clocktower a task needs run on the job its taskType names.
  'PATCH /v1/odm/callbacks/{taskId}/{token}': open,
  'POST /api/v1/up/executor/tasks': job('run', 'taskType'),
  'GET /api/v1/up/executor/tasks/{taskId}/status': jobs,
  // A run is its root job's: reading it needs read, stopping or restarting it run.
  'GET /v1/runs': jobs,
  'GET /v1/runs/{id}': job('read', 'run'),
  'POST /v1/runs/{id}/stop': job('run', 'run'),
  'POST /v1/runs/{id}/restart': job('run', 'run'),

  'POST /v1/acl/bootstrap': { kind: 'bootstrap' },
  'GET /v1/acl/token/self': any,
  'GET /v1/acl/tokens': acl('read'),
  'POST /v1/acl/tokens': acl('write'),
  'GET /v1/acl/tokens/{accessor}': acl('read'),
  'DELETE /v1/acl/tokens/{accessor}': acl('write'),
  'GET /v1/acl/policies': acl('read'),
  'GET /v1/acl/policies/{name}': acl('read'),
  'POST /v1/acl/policies/{name}': acl('write'),
  'PUT /v1/acl/policies/{name}': acl('write'),
  'DELETE /v1/acl/policies/{name}': acl('write'),
};
