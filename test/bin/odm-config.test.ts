// odm_executors from a JSON or YAML config file, the environment or a flag,
// for light mode and servers; the `odm` executor_config checks.

import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAgentConfig } from '../../bin/agent-config.js';
import { parseLightConfig } from '../../bin/light-config.js';
import { parseOdmJobConfig } from '../../server/dispatch/odm/odm-config.js';

const dir = mkdtempSync(join(tmpdir(), 'ct-odm-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const light = (argv: string[], env: Record<string, string> = {}) => {
  const c = parseLightConfig(argv, env, '0.0.0');
  if (c === 'help') throw new Error('help');
  return c;
};

t.test('from a JSON file, a YAML file, the environment and a flag', async (t) => {
  const json = join(dir, 'c.json');
  writeFileSync(json, JSON.stringify({ odm_executors: { 'azure-devops': { active: true, address: 'http://host:9003/', checkAfterCallback: false } } }));
  t.same(light(['--config', json]).odmExecutors, { 'azure-devops': { active: true, address: 'http://host:9003', checkAfterCallback: false } });

  const yaml = join(dir, 'c.yml');
  writeFileSync(yaml, 'odm_executors:\n  gh:\n    address: https://gh.example\n    checkAfterCallback: true\n');
  t.same(light(['--config', yaml]).odmExecutors, { gh: { active: true, address: 'https://gh.example', checkAfterCallback: true } }, 'active defaults to true');

  t.same(light([], { CLOCKTOWER_ODM_EXECUTORS: '{"a":{"address":"http://a:1","active":false}}' }).odmExecutors, { a: { active: false, address: 'http://a:1', checkAfterCallback: false } });
  t.same(light(['--odm-executors', '{"b":{"address":"http://b:1"}}']).odmExecutors, { b: { active: true, address: 'http://b:1', checkAfterCallback: false } });
  t.same(light([]).odmExecutors, {}, 'none by default');
  t.equal(light([]).odmCallbackUrl, null);
  t.equal(light(['--odm-callback-url', 'https://ct.example/']).odmCallbackUrl, 'https://ct.example');

  const server = parseAgentConfig(['--server', '--bootstrap-expect', '1', '--config', yaml], {}, '0.0.0');
  if (server === 'help') throw new Error('help');
  t.same(server.odmExecutors, { gh: { active: true, address: 'https://gh.example', checkAfterCallback: true } }, 'a server reads it too');
});

t.test('bad settings are refused, saying what is wrong', async (t) => {
  t.throws(() => light(['--odm-executors', '{"a":']), /odm_executors must be a JSON object/);
  t.throws(() => light(['--odm-executors', '[]']), /odm_executors must be an object/);
  t.throws(() => light(['--odm-executors', '{"a":{"address":"ftp://x"}}']), /odm_executors\.a\.address: "ftp:\/\/x" is not an http\(s\) URL/);
  t.throws(() => light(['--odm-executors', '{"a":{}}']), /odm_executors\.a\.address must be a URL string/);
  t.throws(() => light(['--odm-executors', '{"a":{"address":"http://x","active":"yes"}}']), /odm_executors\.a\.active must be true or false/);
  t.throws(() => light(['--odm-executors', '{"a":{"address":"http://x","colour":1}}']), /unknown key "colour"/);
  t.throws(() => light(['--odm-callback-url', 'nowhere']), /--odm-callback-url must be an http\(s\) URL/);
});

t.test('executor_config of an odm job', async (t) => {
  t.match(parseOdmJobConfig({ service: 'svc', taskType: 'build', parameters: '{"a":1}', timeout: '90s' }), { service: 'svc', taskType: 'build', parameters: { a: 1 }, timeoutMs: 90_000 });
  t.match(parseOdmJobConfig({ address: 'http://x:1/', taskType: 'b' }), { address: 'http://x:1', timeoutMs: 3_600_000 });
  t.match(parseOdmJobConfig({ service: 'svc', taskType: 'b', extra: '1' }), /unknown executor_config key "extra"/);
  t.match(parseOdmJobConfig({ service: 'svc' }), /needs "taskType"/);
  t.match(parseOdmJobConfig({ service: 's', address: 'http://x', taskType: 'b' }), /not both/);
  t.match(parseOdmJobConfig({ service: 's', taskType: 'b', parameters: 'nope' }), /must be a JSON object as a string/);
  t.match(parseOdmJobConfig({ service: 's', taskType: 'b', timeout: '0' }), /must be above 0/);
});

t.test('templates in parameters', async (t) => {
  const values = { job_name: 'build "x"', execution_id: '42', scheduled_at: '2026-12-07T10:00:00.000Z', attempt: 2 };
  t.match(parseOdmJobConfig({ service: 's', taskType: 'b', parameters: '{"job":"{{job_name}}","run":"{{ execution_id }}","at":"{{scheduled_at}}","try":{{attempt}}}' }, values),
    { parameters: { job: 'build "x"', run: '42', at: '2026-12-07T10:00:00.000Z', try: 2 } }, 'filled, escaped for JSON');
  t.match(parseOdmJobConfig({ service: 's', taskType: 'b', parameters: '{"a":"{{nope}}"}' }), /unknown template \{\{nope\}\}/);
  t.match(parseOdmJobConfig({ service: 's', taskType: 'b', parameters: '{"try":{{attempt}}}' }), { parameters: { try: 1 } }, 'checked at save time with sample values');
});
