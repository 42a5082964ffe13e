import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PubSubExecutor, validatePubSubConfig } from '../../../plugins/executors/pubsub/pubsub-executor.js';
import { PluginExecutor } from '../../../plugins/sdk/plugin-executor.js';
import type { Executor } from '../../../plugins/sdk/executor.js';
import { startPubSubServer } from '../../support/pubsub-test-server.js';

const server = await startPubSubServer();
t.teardown(() => server.close());
const pubsub = new PubSubExecutor();
t.teardown(() => pubsub.close());
const endpoint = server.address;
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function run(config: Record<string, string>, executor: Executor = pubsub, signal = new AbortController().signal) {
  let output = '';
  const result = await executor.execute({ jobName: 'j', config, executionId: '1', scheduledAtMs: 0, attempt: 1 }, { write: (c) => (output += Buffer.from(c).toString()) }, signal);
  return { result, output };
}

t.test('publishes data, attributes and ordering key; the message id is the output', async (t) => {
  server.createTopic('projects/proj/topics/jobs');
  const { result, output } = await run({ project: 'proj', topic: 'jobs', data: b64('hello'), attributes: '{"origin": "clocktower", "kind": "test"}', orderingKey: 'k1', endpoint });
  t.same(result, { success: true, exitCode: 0, error: '' });
  const [m] = server.messages('projects/proj/topics/jobs');
  t.ok(m);
  t.equal(output, m?.messageId);
  t.equal(m?.data.toString(), 'hello');
  t.same(m?.attributes, { origin: 'clocktower', kind: 'test' });
  t.equal(m?.orderingKey, 'k1');

  const second = await run({ project: 'proj', topic: 'projects/proj/topics/jobs', attributes: '{"only": "attributes"}', endpoint });
  t.same(second.result, { success: true, exitCode: 0, error: '' }, 'a full topic name, and attributes without data');
  const last = server.messages('projects/proj/topics/jobs').at(-1);
  t.same({ id: last?.messageId, data: last?.data.length, attributes: last?.attributes, orderingKey: last?.orderingKey }, { id: second.output, data: 0, attributes: { only: 'attributes' }, orderingKey: '' });
});

t.test('Dkron\'s name gcppubsub is the same executor', async (t) => {
  const gcp = new PubSubExecutor('gcppubsub');
  t.teardown(() => gcp.close());
  t.equal(gcp.name, 'gcppubsub');
  server.createTopic('projects/proj/topics/dkron');
  const { result, output } = await run({ project: 'proj', topic: 'dkron', data: b64('from dkron') , endpoint }, gcp);
  t.equal(result.success, true);
  t.equal(server.messages('projects/proj/topics/dkron')[0]?.messageId, output);
});

t.test('an unknown topic is NOT_FOUND; a paused ordering key recovers', async (t) => {
  t.same((await run({ project: 'proj', topic: 'missing', data: b64('x'), endpoint })).result,
    { success: false, exitCode: 5, error: `topic projects/proj/topics/missing does not exist at ${endpoint} (NOT_FOUND: Resource not found (resource=topic).)` });
  t.match((await run({ project: 'proj', topic: 'later', data: b64('x'), orderingKey: 'k', endpoint })).result, { success: false, exitCode: 5 });
  server.createTopic('projects/proj/topics/later');
  t.match((await run({ project: 'proj', topic: 'later', data: b64('now'), orderingKey: 'k', endpoint })).result, { success: true }, 'the failed ordering key was resumed');
  t.equal(server.messages('projects/proj/topics/later')[0]?.data.toString(), 'now');
});

t.test('bad config fails before anything is sent', async (t) => {
  const calls = server.publishCalls();
  const cases: [Record<string, string>, RegExp][] = [
    [{ topic: 'jobs', data: b64('x') }, /project is required/],
    [{ project: 'proj', data: b64('x') }, /topic is required/],
    [{ project: 'proj', topic: 'jobs', data: 'not base64!' }, /data must be base64/],
    [{ project: 'proj', topic: 'jobs', attributes: '{"a": ' }, /attributes are not valid JSON/],
    [{ project: 'proj', topic: 'jobs', attributes: '["a"]' }, /attributes must be a JSON object of strings/],
    [{ project: 'proj', topic: 'jobs', attributes: '{"n": 1}' }, /attribute "n" must be a string, not 1/],
    [{ project: 'proj', topic: 'jobs' }, /set data \(base64\) or attributes/],
    [{ project: 'proj', topic: 'projects/other/topics/jobs', data: b64('x') }, /is not in project proj/],
    [{ project: 'proj', topic: 'jobs', data: b64('x'), timeout: 'soon' }, /timeout must be seconds/],
  ];
  for (const [config, message] of cases) {
    t.match(validatePubSubConfig(config), message);
    t.match((await run({ ...config, endpoint })).result, { success: false, error: message });
  }
  t.equal(validatePubSubConfig({ project: 'proj', topic: 'jobs', data: b64('x'), timeout: '2m' }), null);
  t.equal(validatePubSubConfig({ project: 'proj', topic: 'jobs', data: '-_8' }), null, 'URL-safe base64 is accepted');
  t.equal(server.publishCalls(), calls);
});

t.test('an unreachable server, a server that does not answer, a stop', async (t) => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  t.match((await run({ project: 'proj', topic: 'jobs', data: b64('x'), endpoint: `127.0.0.1:${port}`, timeout: '1' })).result,
    { success: false, exitCode: 14, error: `cannot reach Pub/Sub at 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}` });

  server.createTopic('projects/proj/topics/jobs');
  server.stall();
  t.teardown(() => server.unstall());
  t.match((await run({ project: 'proj', topic: 'jobs', data: b64('x'), endpoint, timeout: '500ms' })).result,
    { success: false, exitCode: 4, error: `timed out after 0.5s publishing to projects/proj/topics/jobs at ${endpoint} (no answer)` });

  const ac = new AbortController();
  const before = server.publishCalls();
  const running = run({ project: 'proj', topic: 'jobs', data: b64('x'), endpoint }, pubsub, ac.signal);
  const poll = setInterval(() => { if (server.publishCalls() > before) ac.abort(); }, 5);
  t.match((await running).result, { success: false, error: /^stopped/ });
  clearInterval(poll);
});

t.test('as plugin programs pubsub and gcppubsub, with PUBSUB_EMULATOR_HOST', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-pubsub-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  server.createTopic('projects/plug/topics/in');
  for (const name of ['pubsub', 'gcppubsub']) {
    const path = join(dir, `clocktower-executor-${name}`);
    writeFileSync(path, `#!/bin/sh\nPUBSUB_EMULATOR_HOST=${endpoint} exec "${process.execPath}" "${resolve(`dist/plugins/executors/${name}/main.js`)}" "$@"\n`);
    chmodSync(path, 0o755);
    const plugin = new PluginExecutor(name, path);
    t.teardown(() => plugin.close());
    const { result, output } = await run({ project: 'plug', topic: 'in', data: b64(`via ${name}`), attributes: `{"plugin": "${name}"}` }, plugin);
    t.same(result, { success: true, exitCode: 0, error: '' }, name);
    const m = server.messages('projects/plug/topics/in').at(-1);
    t.same({ id: m?.messageId, data: m?.data.toString(), attributes: m?.attributes }, { id: output, data: `via ${name}`, attributes: { plugin: name } }, name);
    t.match((await run({ project: 'plug', topic: 'nowhere', data: b64('x') }, plugin)).result, { success: false, exitCode: 5, error: /does not exist/ }, name);
  }
});

t.test('without an emulator and without Google credentials: a clear failure, and the plugin lives on', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-pubsub-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'clocktower-executor-gcppubsub');
  writeFileSync(path, `#!/bin/sh\nunset PUBSUB_EMULATOR_HOST\nGOOGLE_APPLICATION_CREDENTIALS=${join(dir, 'no-such-key.json')} exec "${process.execPath}" "${resolve('dist/plugins/executors/gcppubsub/main.js')}" "$@"\n`);
  chmodSync(path, 0o755);
  const plugin = new PluginExecutor('gcppubsub', path);
  t.teardown(() => plugin.close());
  for (const attempt of [1, 2]) {
    t.match((await run({ project: 'proj', topic: 'jobs', data: b64('x') }, plugin)).result,
      { success: false, error: /^no Google credentials to publish with: .*no-such-key\.json.*set PUBSUB_EMULATOR_HOST or endpoint/ }, `attempt ${attempt}`);
  }
});
