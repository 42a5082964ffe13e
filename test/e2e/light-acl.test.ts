// Access control against a real light server, through its HTTP API and the
// CLI: bootstrap once, policies from a file, tokens with a TTL, 401 and 403
// with the missing capability named, lists filtered to what a token may
// read, every route against tokens of each level (table-driven from the
// API's own route list), the --api-token as a management token, the
// accessor recorded as who changed a job, the anonymous policy, and no
// secret in a log line or an error.

import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, mainJs, startLight, tempDir, until } from '../support/light-process.js';
import { apiRoutes, routeKey } from '../../server/api/http-api.js';
import { routeRules } from '../../server/api/route-rules.js';
import { routeLabel } from '../../server/api/http-api.js';

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainJs, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLOCKTOWER_API_TOKEN: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const dir = tempDir('ct-acl-');
t.teardown(dir.remove);
const light = await startLight(join(dir.path, 'data'), ['--api-token', 'sesame']);
t.teardown(() => light.stop());
const url = light.url;
const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
const master = bearer('sesame');
const secrets: string[] = [];

const job = (name: string) => ({ name, schedule: '@manually', executor: 'shell', executor_config: { command: 'echo hi' } });

interface TokenJson { accessor: string; secret: string; policies: string[]; management: boolean; expires_at: string | null; expired: boolean }

async function token(policies: string[], ttl?: string): Promise<TokenJson> {
  const r = await call(url, 'POST', '/v1/acl/tokens', { policies, description: policies.join('+'), ...(ttl ? { ttl } : {}) }, master);
  if (r.status !== 201) throw new Error(`token: ${r.status} ${r.text}`);
  const tok = r.body as TokenJson;
  secrets.push(tok.secret);
  return tok;
}

async function policy(name: string, doc: unknown): Promise<void> {
  const r = await call(url, 'PUT', `/v1/acl/policies/${name}`, doc, master);
  if (r.status !== 200) throw new Error(`policy ${name}: ${r.status} ${r.text}`);
}

let root = '';

t.test('before bootstrap: the --api-token rules as before; bootstrap needs it, works once, then refuses', async (t) => {
  t.equal((await call(url, 'GET', '/v1/jobs')).status, 401);
  t.equal((await call(url, 'POST', '/v1/jobs', job('etl-a'), master)).status, 201);
  t.equal((await call(url, 'POST', '/v1/acl/tokens', { policies: ['x'] }, master)).status, 409, 'no tokens before bootstrap');
  t.equal((await call(url, 'POST', '/v1/acl/bootstrap')).status, 401, 'bootstrap needs the API token while one is set');

  const first = await cli(['acl', 'bootstrap', '--address', url, '--api-token', 'sesame']);
  t.equal(first.code, 0, first.stderr);
  const m = /^Secret:\s+(\S+)$/m.exec(first.stdout);
  t.ok(m, 'the CLI prints the secret');
  root = m?.[1] ?? '';
  secrets.push(root);
  t.match(first.stdout, /^Accessor:\s+[0-9a-f-]{36}$/m);
  t.match(first.stdout, /^Policies:\s+\(management\)$/m);

  const second = await cli(['acl', 'bootstrap', '--address', url, '--api-token', 'sesame']);
  t.equal(second.code, 1);
  t.match(second.stderr, /ACLs are already bootstrapped/);
  const again = await call(url, 'POST', '/v1/acl/bootstrap');
  t.equal(again.status, 409, 'refused with a clear error, whoever asks');
  t.match(again.body, { error: { code: 'CT_STATE_ACL_BOOTSTRAPPED' } });

  t.equal((await call(url, 'GET', '/v1/jobs', undefined, bearer(root))).status, 200, 'the bootstrap token is a management token');
  t.equal((await call(url, 'GET', '/v1/acl/tokens', undefined, master)).status, 200, '--api-token still is one');
});

t.test('policies from a file with the CLI; tokens with the CLI; list and delete', async (t) => {
  const etlFile = join(dir.path, 'etl.json');
  writeFileSync(etlFile, JSON.stringify({ description: 'ETL team', jobs: { 'etl-': 'write', 'etl-prod-': 'read' }, operator: 'read' }));
  const yamlFile = join(dir.path, 'reader.yaml');
  writeFileSync(yamlFile, 'description: read everything\njobs:\n  "": read\n');
  const auth = ['--address', url, '--api-token', root];
  for (const [name, file] of [['etl', etlFile], ['reader', yamlFile]] as const) {
    const r = await cli(['acl', 'policy', 'apply', name, '-f', file, ...auth]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, `applied policy ${name}`);
  }
  const bad = join(dir.path, 'bad.json');
  writeFileSync(bad, JSON.stringify({ jobs: { 'etl-': 'admin' } }));
  const refused = await cli(['acl', 'policy', 'apply', 'bad', '-f', bad, ...auth]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /level "admin" is not one of deny, read, run, write \(field: jobs\)/);

  const list = await cli(['acl', 'policy', 'list', ...auth]);
  t.match(list.stdout, /^etl\s+ETL team\s+etl-\*=write etl-prod-\*=read\s+read\s+-$/m);
  t.match(list.stdout, /^reader\s+read everything\s+\*=read/m);

  const created = await cli(['acl', 'token', 'create', '--policy', 'etl', '--description', 'etl loader', '--ttl', '1h', ...auth]);
  t.equal(created.code, 0, created.stderr);
  const accessor = /^Accessor:\s+(\S+)$/m.exec(created.stdout)?.[1] ?? '';
  const secret = /^Secret:\s+(\S+)$/m.exec(created.stdout)?.[1] ?? '';
  secrets.push(secret);
  t.match(created.stdout, /^Expires:\s+\d{4}-\d\d-\d\dT/m);
  const tokens = await cli(['acl', 'token', 'list', ...auth]);
  t.match(tokens.stdout, new RegExp(`^${accessor}\\s+etl loader\\s+etl\\s+\\d{4}-`, 'm'));
  t.notMatch(tokens.stdout, secret, 'a list never shows a secret');
  t.notMatch((await call(url, 'GET', '/v1/acl/tokens', undefined, master)).text, /secret/i, 'nor a hash');
  const self = await cli(['acl', 'token', 'self', '--address', url, '--api-token', secret]);
  t.match(self.stdout, `Accessor:    ${accessor}`);

  t.equal((await call(url, 'GET', '/v1/jobs/etl-a', undefined, bearer(secret))).status, 200);
  const deleted = await cli(['acl', 'token', 'delete', accessor, ...auth]);
  t.equal(deleted.code, 0, deleted.stderr);
  t.equal((await call(url, 'GET', '/v1/jobs/etl-a', undefined, bearer(secret))).status, 401, 'a deleted token is refused');
  const unknownPolicy = await cli(['acl', 'token', 'create', '--policy', 'nope', ...auth]);
  t.match(unknownPolicy.stderr, /policy not found: nope \(field: policies\)/);
});

t.test('401, 403 naming the capability, filtered lists, the accessor in versions', async (t) => {
  for (const name of ['etl-b', 'etl-prod-load', 'web-1']) t.equal((await call(url, 'POST', '/v1/jobs', job(name), master)).status, 201);
  const etl = await token(['etl']);
  const none = await call(url, 'GET', '/v1/jobs');
  t.equal(none.status, 401);
  t.match(none.body, { error: { code: 'CT_API_UNAUTHORIZED', message: /needs a token/ } });
  const unknown = await call(url, 'GET', '/v1/jobs', undefined, bearer('ct-not-a-token'));
  t.equal(unknown.status, 401);
  t.notMatch(unknown.text, 'ct-not-a-token', 'the error does not repeat the secret');
  t.equal((await call(url, 'GET', '/v1/jobs', undefined, { authorization: 'Basic abc' })).status, 401);
  t.equal((await call(url, 'GET', '/v1/jobs', undefined, { 'x-dkron-token': etl.secret })).status, 200, 'Dkron Pro\'s header works too');

  const list = await call(url, 'GET', '/v1/jobs', undefined, bearer(etl.secret));
  t.same((list.body as { name: string }[]).map((j) => j.name), ['etl-a', 'etl-b', 'etl-prod-load'], 'only what the token may read');
  t.equal(list.headers['x-total-count'], '3');
  const reader = await token(['reader']);
  t.equal((await call(url, 'GET', '/v1/jobs', undefined, bearer(reader.secret))).headers['x-total-count'], '4');

  t.equal((await call(url, 'POST', '/v1/jobs', job('etl-c'), bearer(etl.secret))).status, 201);
  const web = await call(url, 'POST', '/v1/jobs', job('web-2'), bearer(etl.secret));
  t.equal(web.status, 403);
  t.match(web.body, { error: { code: 'CT_API_FORBIDDEN', message: "permission denied: this token needs write on job 'web-2': no rule of its policies matches it" } });
  const prod = await call(url, 'DELETE', '/v1/jobs/etl-prod-load', undefined, bearer(etl.secret));
  t.equal(prod.status, 403);
  t.match(prod.body, { error: { message: /needs write on job 'etl-prod-load': its rule for job prefix 'etl-prod-' grants read/ } });
  t.equal((await call(url, 'GET', '/v1/jobs/etl-prod-load', undefined, bearer(etl.secret))).status, 200);
  t.equal((await call(url, 'GET', '/v1/jobs/web-1', undefined, bearer(etl.secret))).status, 403);
  t.equal((await call(url, 'GET', '/v1/jobs/web-1/executions', undefined, bearer(etl.secret))).status, 403);
  const pause = await call(url, 'POST', '/v1/pause', undefined, bearer(etl.secret));
  t.equal(pause.status, 403);
  t.match(pause.body, { error: { message: /needs operator write: its policies grant operator read/ } });
  t.equal((await call(url, 'GET', '/v1/raft/peers', undefined, bearer(etl.secret))).status, 404, 'operator read passes (light mode has no peers)');
  t.equal((await call(url, 'GET', '/v1/acl/tokens', undefined, bearer(etl.secret))).status, 403);
  const escalate = await call(url, 'POST', '/v1/acl/tokens', { policies: ['reader'] }, bearer(etl.secret));
  t.equal(escalate.status, 403);

  // The CLI says the same.
  const cliList = await cli(['jobs', 'list', '--address', url, '--api-token', etl.secret]);
  t.match(cliList.stdout, /etl-prod-load/);
  t.notMatch(cliList.stdout, /web-1/);
  const cliDenied = await cli(['jobs', 'delete', 'web-1', '--address', url, '--api-token', etl.secret]);
  t.equal(cliDenied.code, 1);
  t.match(cliDenied.stderr, /needs write on job 'web-1'/);

  // Who changed a job: the accessor.
  const versions = (await call(url, 'GET', '/v1/jobs/etl-c/versions', undefined, bearer(etl.secret))).body as { by: string }[];
  t.equal(versions[0]?.by, etl.accessor);
  t.equal((await call(url, 'POST', '/v1/jobs', job('etl-c'), bearer(root))).status, 201);
  const rootAccessor = ((await call(url, 'GET', '/v1/acl/token/self', undefined, bearer(root))).body as { accessor: string }).accessor;
  t.equal(((await call(url, 'GET', '/v1/jobs/etl-c/versions', undefined, master)).body as { by: string }[])[0]?.by, rootAccessor);
});

t.test('a token expires after its TTL', async (t) => {
  const short = await token(['reader'], '1s');
  t.ok(short.expires_at, 'it says when');
  t.equal((await call(url, 'GET', '/v1/jobs', undefined, bearer(short.secret))).status, 200);
  const refused = await until('the token to expire', async () => {
    const r = await call(url, 'GET', '/v1/jobs', undefined, bearer(short.secret));
    return r.status === 401 ? r : undefined;
  }, 10_000);
  t.match(refused.body, { error: { message: `token ${short.accessor} expired at ${short.expires_at ?? ''}` } });
  const listed = ((await call(url, 'GET', '/v1/acl/tokens', undefined, master)).body as TokenJson[]).find((x) => x.accessor === short.accessor);
  t.equal(listed?.expired, true);
  t.equal((await call(url, 'POST', '/v1/acl/tokens', { policies: ['reader'], ttl: 'soon' }, master)).status, 400);
});

// Concrete paths for a route's pattern.
function concrete(label: string): string {
  return label.replace('{name}', 'etl-a').replace('{id}', 'nobody').replace('{accessor}', 'nobody').replace('{n}', '1');
}

t.test('every route against tokens of each level', async (t) => {
  await policy('nothing', { jobs: {} });
  await policy('jobs-read', { jobs: { '': 'read' } });
  await policy('jobs-run', { jobs: { '': 'run' } });
  await policy('ops-read', { jobs: {}, operator: 'read', acl: 'read' });
  const tokens = {
    nothing: await token(['nothing']),
    read: await token(['jobs-read']),
    run: await token(['jobs-run']),
    opsRead: await token(['ops-read']),
  };
  const jobRank = { read: 1, run: 2, write: 3 } as const;
  for (const route of apiRoutes) {
    const key = routeKey(route);
    const rule = routeRules[key];
    if (!rule) {
      t.fail(`${key} has no rule`);
      continue;
    }
    const path = concrete(routeLabel(route.pattern));
    const body = route.method === 'GET' || route.method === 'DELETE' ? undefined : route.pattern.source === '^\\/v1\\/jobs$' ? job('etl-a') : {};
    const ask = (secret?: string) => call(url, route.method, path, body, secret ? bearer(secret) : {});
    const statusOf = async (secret?: string) => (await ask(secret)).status;
    if (rule.kind === 'open') {
      // Open: no token asked for (the UI's / redirects, a made-up /ui/{file} is 404).
      t.notOk([401, 403].includes(await statusOf()), `${key}: open`);
      continue;
    }
    if (rule.kind === 'bootstrap') {
      t.equal(await statusOf(tokens.nothing.secret), 409, `${key}: refused once bootstrapped`);
      continue;
    }
    t.equal(await statusOf(), 401, `${key}: 401 without a token`);
    if (rule.kind === 'any' || rule.kind === 'jobs') {
      t.not(await statusOf(tokens.nothing.secret), 403, `${key}: any token`);
      continue;
    }
    const denied = await ask(tokens.nothing.secret);
    t.equal(denied.status, 403, `${key}: 403 for a token without the right`);
    t.match(denied.text, /needs (read|run|write) on|needs (operator|acl) (read|write)/, `${key}: the message names the capability`);
    if (rule.kind === 'job') {
      for (const level of ['read', 'run'] as const) {
        const status = await statusOf(tokens[level].secret);
        if (jobRank[level] >= jobRank[rule.level]) t.not(status, 403, `${key}: ${level} is enough for ${rule.level}`);
        else t.equal(status, 403, `${key}: ${level} is not enough for ${rule.level}`);
      }
    } else {
      const status = await statusOf(tokens.opsRead.secret);
      if (rule.level === 'read') t.not(status, 403, `${key}: ${rule.kind} read`);
      else t.equal(status, 403, `${key}: ${rule.kind} read is not ${rule.kind} write`);
    }
  }
  t.equal((await call(url, 'GET', '/v1/jobs/etl-a', undefined, master)).status, 200, 'a read or run token changed nothing (the job is still there)');
});

t.test('the anonymous policy opens read-only dashboards', async (t) => {
  t.equal((await call(url, 'GET', '/v1/jobs')).status, 401);
  await policy('anonymous', { description: 'dashboards', jobs: { 'etl-': 'read' } });
  const list = await call(url, 'GET', '/v1/jobs');
  t.equal(list.status, 200);
  t.ok((list.body as { name: string }[]).every((j) => j.name.startsWith('etl-')));
  t.equal((await call(url, 'POST', '/v1/jobs/etl-a/run')).status, 403);
  t.equal((await call(url, 'GET', '/v1/jobs', undefined, bearer('ct-wrong'))).status, 401, 'a wrong token is still refused, not anonymous');
  t.equal((await call(url, 'DELETE', '/v1/acl/policies/anonymous', undefined, master)).status, 200);
  t.equal((await call(url, 'GET', '/v1/jobs')).status, 401);
});

t.test('executor_config secrets: redacted below write, kept on a save of the redacted answer; restore needs write on each job', async (t) => {
  const secretJob = { name: 'etl-secret', schedule: '@manually', executor: 'shell', executor_config: { command: 'psql', env: 'PGHOST=db,PGPASSWORD=hunter2' } };
  t.equal((await call(url, 'POST', '/v1/jobs', secretJob, master)).status, 201);
  await policy('etl-writer', { jobs: { 'etl-': 'write' } });
  await policy('etl-reader', { jobs: { 'etl-': 'read' } });
  await policy('ops-only', { jobs: { 'etl-': 'read' }, operator: 'write' });
  const writer = await token(['etl-writer']);
  const reader = await token(['etl-reader']);
  const ops = await token(['ops-only']);
  const config = async (secret: string, path = '/v1/jobs/etl-secret') => {
    const r = await call(url, 'GET', path, undefined, bearer(secret));
    return (Array.isArray(r.body) ? (r.body as { name: string; executor_config: Record<string, string> }[]).find((j) => j.name === 'etl-secret') : (r.body as { executor_config: Record<string, string> }))?.executor_config;
  };
  t.same(await config(reader.secret), { command: 'psql', env: 'PGHOST=db,PGPASSWORD=<redacted>' }, 'a read token sees the secret redacted');
  t.same(await config(reader.secret, '/v1/jobs'), { command: 'psql', env: 'PGHOST=db,PGPASSWORD=<redacted>' }, 'in the list too');
  t.same(await config(writer.secret), secretJob.executor_config, 'a write token sees it');
  t.same(await config(writer.secret, '/v1/jobs'), { command: 'psql', env: 'PGHOST=db,PGPASSWORD=<redacted>' }, 'but not in the list: that is the export for backup, in full for management tokens only');
  t.same(await config('sesame', '/v1/jobs'), secretJob.executor_config, 'the --api-token exports it');
  t.same(await config(root, '/v1/jobs'), secretJob.executor_config, 'an ACL management token too');
  const v = await call(url, 'GET', '/v1/jobs/etl-secret/versions/1', undefined, bearer(reader.secret));
  t.notMatch(v.text, /hunter2/, 'a recorded version is redacted for a reader');
  // A writer saves what a redacted answer showed (say, copied from a reader's view): the secret stays.
  const shown = (await call(url, 'GET', '/v1/jobs/etl-secret', undefined, bearer(reader.secret))).body as Record<string, unknown>;
  t.equal((await call(url, 'PUT', '/v1/jobs/etl-secret', { ...secretJob, executor_config: shown['executor_config'], metadata: { edited: 'yes' } }, bearer(writer.secret))).status, 200);
  t.same(await config(writer.secret), secretJob.executor_config, 'the stored secret was kept, not replaced by the marker');
  // Restore needs operator write, and write on each job it creates or changes.
  const restored = await call(url, 'POST', '/v1/restore', [{ ...secretJob, executor_config: { command: 'evil' } }], bearer(ops.secret));
  t.equal(restored.status, 200);
  t.match(restored.text, /fail create etl-secret: this token needs write on job 'etl-secret'/);
  t.same(await config(writer.secret), secretJob.executor_config, 'the restore changed nothing');
  t.match((await call(url, 'POST', '/v1/restore', [{ ...secretJob, metadata: { restored: 'yes' } }], master)).text, /success create etl-secret/);
});

t.test('no secret in the server\'s log', async (t) => {
  t.ok(secrets.length > 5);
  for (const s of secrets) t.notMatch(light.log(), s, 'a secret is never logged');
});
