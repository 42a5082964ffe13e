// Dkron's notification settings as flags, environment and config-file keys
// (JSON and dkron.yml style), with clear errors for what cannot work.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLightConfig, type LightConfig } from '../../bin/light-config.js';
import { parseAgentConfig } from '../../bin/agent-config.js';

function parse(argv: string[], env: Record<string, string> = {}): LightConfig {
  const c = parseLightConfig(argv, env, '0.0.0');
  if (c === 'help') throw new Error('help');
  return c;
}

t.test('no settings: no notifications but the jobs\' own rules (webhooks)', async (t) => {
  const c = parse([]);
  t.same([c.notify.webhook, c.notify.preWebhook, c.notify.mail], [null, null, null]);
  t.equal(c.notify.attempts, 5);
  t.equal(c.notify.backoffMs, 1000);
});

t.test('flags: mail, webhook with headers, pre-webhook, retries', async (t) => {
  const c = parse([
    '--mail-host', 'smtp.example.com', '--mail-port', '587', '--mail-username', 'u', '--mail-password', 'p4ss',
    '--mail-from', 'cron@example.com', '--mail-payload', '{{.Report}}', '--mail-subject-prefix', '[Dkron]',
    '--webhook-endpoint', 'https://hooks.example.com/x', '--webhook-payload', '{{.JobName}}',
    '--webhook-headers', 'Authorization:Bearer a:b', '--webhook-headers', 'X-Team: ops',
    '--pre-webhook-endpoint', 'http://pre/', '--pre-webhook-payload', 'start',
    '--notify-attempts', '7', '--notify-backoff', '250ms', '--notify-timeout', '3s',
  ]);
  t.same(c.notify.mail, { host: 'smtp.example.com', port: 587, username: 'u', password: 'p4ss', from: 'cron@example.com', payload: '{{.Report}}', subjectPrefix: '[Dkron]' });
  t.same(c.notify.webhook, { endpoint: 'https://hooks.example.com/x', payload: '{{.JobName}}', headers: [['Authorization', 'Bearer a:b'], ['X-Team', 'ops']] }, 'split at the first colon only');
  t.same(c.notify.preWebhook, { endpoint: 'http://pre/', payload: 'start', headers: [] });
  t.same([c.notify.attempts, c.notify.backoffMs, c.notify.timeoutMs], [7, 250, 3000]);
  t.ok(c.notifyTemplates.webhook && c.notifyTemplates.mail && c.notifyTemplates.preWebhook, 'templates parsed once');
  const server = parseAgentConfig(['--server', '--bootstrap-expect', '1', '--webhook-url', 'http://old/', '--webhook-payload', 'x'], {}, '0.0.0');
  if (server === 'help') throw new Error('help');
  t.equal(server.notify.webhook?.endpoint, 'http://old/', 'a server takes them too; --webhook-url is the old name');
});

t.test('environment and config files (JSON, and YAML with Dkron\'s keys)', async (t) => {
  const env = parse([], { CLOCKTOWER_MAIL_HOST: 'm', CLOCKTOWER_MAIL_PORT: '2525', CLOCKTOWER_MAIL_PASSWORD: 'pw', CLOCKTOWER_MAIL_USERNAME: 'me' });
  t.match(env.notify.mail, { host: 'm', port: 2525, username: 'me', password: 'pw', subjectPrefix: '[Clocktower]' });
  const dir = mkdtempSync(join(tmpdir(), 'ct-notify-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const yml = join(dir, 'dkron.yml');
  writeFileSync(yml, [
    'mail-host: smtp.local', 'mail-port: 1025', 'mail-from: dkron@local',
    'webhook-endpoint: http://hooks.local/notify', "webhook-payload: 'job {{.JobName}} success {{.Success}}'",
    'webhook-headers:', '  - "X-Key:abc123"',
  ].join('\n'));
  const y = parse(['--config', yml]);
  t.match(y.notify.mail, { host: 'smtp.local', port: 1025, from: 'dkron@local' });
  t.same(y.notify.webhook?.headers, [['X-Key', 'abc123']]);
  const json = join(dir, 'c.json');
  writeFileSync(json, JSON.stringify({ 'pre-webhook-endpoint': 'http://p/', 'pre-webhook-payload': '{{ .JobName }}' }));
  t.equal(parse(['--config', json]).notify.preWebhook?.endpoint, 'http://p/');
});

t.test('what cannot work is an error naming the setting', async (t) => {
  t.throws(() => parse(['--webhook-endpoint', 'http://x/']), /--webhook-payload: --webhook-endpoint needs --webhook-payload/);
  t.throws(() => parse(['--webhook-payload', 'x']), /need --webhook-endpoint/);
  t.throws(() => parse(['--webhook-endpoint', 'mailto:x', '--webhook-payload', 'x']), /--webhook-endpoint: .*http/);
  t.throws(() => parse(['--webhook-endpoint', 'http://x/', '--webhook-payload', '{{.Jobname}}']), /--webhook-payload: unknown variable \.Jobname/);
  const headerError = t.throws(() => parse(['--webhook-endpoint', 'http://x/', '--webhook-payload', 'x', '--webhook-headers', 'secretvalue']), /Name:Value/);
  t.notOk(String((headerError as Error | undefined)?.message).includes('secretvalue'), 'the entry is not repeated in the error');
  t.throws(() => parse(['--webhook-endpoint', 'http://a/', '--webhook-url', 'http://b/', '--webhook-payload', 'x']), /old name/);
  t.throws(() => parse(['--webhook-endpoint', 'http://x/', '--webhook-payload', 'x', '--webhook-headers', 'Connection:close']), /--webhook-headers: the Connection header is the connection's own/);
  t.throws(() => parse(['--mail-port', '25']), /--mail-port needs --mail-host/);
  t.throws(() => parse(['--mail-host', 'h', '--mail-username', 'u']), /--mail-password: give both/);
  t.throws(() => parse(['--mail-host', 'h', '--mail-port', 'x']), /--mail-port: must be a port/);
  t.throws(() => parse(['--mail-host', 'h', '--mail-payload', '{{if .Success}}y{{end}}']), /--mail-payload: .*only \{\{\.Variable\}\}/);
  t.throws(() => parse(['--notify-attempts', '0']), /--notify-attempts must be a whole number above 0/);
  t.throws(() => parse(['--notify-backoff', 'soon']), /--notify-backoff/);
  t.throws(() => parse(['--mail-hots', 'x']), /unknown flag --mail-hots \(did you mean --mail-host\?\)/);
});
