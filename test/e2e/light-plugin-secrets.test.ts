// Keys a plugin declares secret, against a real light server with ACLs on
// and real plugin programs in its plugin directory: one built with the SDK
// that declares two keys (redacted for a read token as secret-named keys
// are, shown to a write token, kept on a save of the redacted answer), one
// built before the Describe call existed (the name rule alone), and one that
// cannot start (its declaration unknown: every value hidden below write).
// And the export for backup, `GET /v1/jobs`: secrets only for management
// tokens (the --api-token, an ACL management token), never for another
// token, even one with write on every job.

import t from 'tap';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { call, startLight, tempDir, until, type ExecutionJson } from '../support/light-process.js';

const dir = tempDir('ct-plugin-secrets-');
t.teardown(dir.remove);
const plugins = join(dir.path, 'plugins');
mkdirSync(plugins);
function plugin(name: string, env: Record<string, string>): void {
  const path = join(plugins, `clocktower-executor-${name}`);
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v} `).join('');
  writeFileSync(path, `#!/bin/sh\n${vars}exec "${process.execPath}" "${resolve('dist/test/plugins/fixtures/fixture-plugin.js')}" "$@"\n`);
  chmodSync(path, 0o755);
}
plugin('vault', { FIXTURE_SECRET_KEYS: 'dsn,signing_material' });
plugin('legacy', { FIXTURE_MODE: 'before-describe' });
plugin('broken', { FIXTURE_MODE: 'exit-at-start' });

const light = await startLight(join(dir.path, 'data'), ['--api-token', 'sesame', '--plugin-dir', plugins]);
t.teardown(() => light.stop());
const { url } = light;
const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
const master = bearer('sesame');

async function must(method: string, path: string, body: unknown, status: number): Promise<Record<string, unknown>> {
  const r = await call(url, method, path, body, master);
  if (r.status !== status) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.body as Record<string, unknown>;
}
const boot = await must('POST', '/v1/acl/bootstrap', undefined, 201);
const root = bearer(String(boot['secret']));
await must('PUT', '/v1/acl/policies/reader', { jobs: { '': 'read' } }, 200);
await must('PUT', '/v1/acl/policies/writer', { jobs: { '': 'write' } }, 200);
const reader = bearer(String((await must('POST', '/v1/acl/tokens', { policies: ['reader'] }, 201))['secret']));
const writer = bearer(String((await must('POST', '/v1/acl/tokens', { policies: ['writer'] }, 201))['secret']));

const vault = { name: 'vault-load', schedule: '@manually', executor: 'vault', executor_config: { text: 'loaded', dsn: 'postgres://loader@db/x', signing_material: 'k3y-m4t3rial', region: 'eu', password: 'pw-1' } };
const legacy = { name: 'legacy-load', schedule: '@manually', executor: 'legacy', executor_config: { dsn: 'postgres://old@db/x', password: 'pw-2' } };
const broken = { name: 'broken-load', schedule: '@manually', executor: 'broken', executor_config: { dsn: 'postgres://b@db/x', region: 'us' } };
for (const job of [vault, legacy, broken]) await must('POST', '/v1/jobs', job, 201);

type JobJson = { name: string; executor_config: Record<string, string> };
async function configOf(name: string, headers: Record<string, string>): Promise<Record<string, string>> {
  const r = await call(url, 'GET', `/v1/jobs/${name}`, undefined, headers);
  if (r.status !== 200) throw new Error(`GET ${name}: ${r.status} ${r.text}`);
  return (r.body as JobJson).executor_config;
}
async function exported(headers: Record<string, string>): Promise<Map<string, Record<string, string>>> {
  const r = await call(url, 'GET', '/v1/jobs', undefined, headers);
  if (r.status !== 200) throw new Error(`GET /v1/jobs: ${r.status} ${r.text}`);
  return new Map((r.body as JobJson[]).map((j) => [j.name, j.executor_config]));
}

t.test('a plugin\'s declared keys are redacted below write, as secret-named ones are', async (t) => {
  t.same(await configOf('vault-load', reader), { text: 'loaded', dsn: '<redacted>', signing_material: '<redacted>', region: 'eu', password: '<redacted>' }, 'a read token');
  t.same(await configOf('vault-load', writer), vault.executor_config, 'a write token sees them');
  const v = await call(url, 'GET', '/v1/jobs/vault-load/versions/1', undefined, reader);
  t.notMatch(v.text, /k3y-m4t3rial|loader@db/, 'nor in a recorded version');
  // A writer saves what a reader was shown: the declared secrets stay.
  const shown = await configOf('vault-load', reader);
  t.equal((await call(url, 'PUT', '/v1/jobs/vault-load', { ...vault, executor_config: shown, metadata: { edited: 'yes' } }, writer)).status, 200);
  t.same(await configOf('vault-load', writer), vault.executor_config, 'kept, not replaced by the marker');
  // The job runs with them, and the server's log never shows them.
  t.equal((await call(url, 'POST', '/v1/jobs/vault-load/run', undefined, writer)).status, 202);
  const done = await until('vault-load to finish', async () => ((await call(url, 'GET', '/v1/jobs/vault-load/executions', undefined, writer)).body as ExecutionJson[]).find((e) => e.finished_at !== null));
  t.equal(done.success, true, done.output);
  t.notMatch(light.log(), /k3y-m4t3rial|loader@db/);
});

t.test('a plugin built before Describe declares nothing: the name rule alone', async (t) => {
  t.same(await configOf('legacy-load', reader), { dsn: 'postgres://old@db/x', password: '<redacted>' });
});

t.test('a plugin that never started has told nothing: every value is hidden below write', async (t) => {
  t.same(await configOf('broken-load', reader), { dsn: '<redacted>', region: '<redacted>' });
  t.same(await configOf('broken-load', writer), broken.executor_config);
});

t.test('the export for backup (GET /v1/jobs) holds secrets for management tokens only', async (t) => {
  for (const [who, headers] of [['--api-token', master], ['ACL management token', root]] as const) {
    const all = await exported(headers);
    t.same(all.get('vault-load'), vault.executor_config, `${who}: in full`);
    t.same(all.get('legacy-load'), legacy.executor_config, `${who}: in full`);
  }
  for (const [who, headers] of [['a write token on every job', writer], ['a read token', reader]] as const) {
    const all = await exported(headers);
    t.same(all.get('vault-load'), { text: 'loaded', dsn: '<redacted>', signing_material: '<redacted>', region: 'eu', password: '<redacted>' }, `${who}: redacted`);
    t.same(all.get('legacy-load'), { dsn: 'postgres://old@db/x', password: '<redacted>' }, `${who}: redacted`);
  }
  // What a management token exported restores as it was.
  const backup = (await call(url, 'GET', '/v1/jobs', undefined, root)).body as JobJson[];
  await must('DELETE', '/v1/jobs/vault-load', undefined, 200);
  const restored = await call(url, 'POST', '/v1/restore', backup, root);
  t.match(restored.text, /success create vault-load/);
  t.same(await configOf('vault-load', writer), vault.executor_config);
  // A redacted export restored where there is no stored secret to keep says so.
  const redactedCopy = ((await call(url, 'GET', '/v1/jobs', undefined, writer)).body as JobJson[]).filter((j) => j.name === 'vault-load').map((j) => ({ ...j, name: 'vault-copy' }));
  const copied = await call(url, 'POST', '/v1/restore', redactedCopy, root);
  t.match(copied.text, /success create vault-copy, warning: executor_config: dsn, signing_material, password hold the <redacted> marker, not a secret/);
});
