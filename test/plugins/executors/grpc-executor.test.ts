import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GrpcExecutor } from '../../../plugins/executors/grpc/grpc-executor.js';
import { parseHeaders } from '../../../plugins/executors/grpc/grpc-config.js';
import { PluginExecutor } from '../../../plugins/sdk/plugin-executor.js';
import type { Executor } from '../../../plugins/sdk/executor.js';
import { echoProtoPath, startEchoServer } from '../../support/grpc-test-servers.js';

const grpcExecutor = new GrpcExecutor();
t.teardown(() => grpcExecutor.close());

const withReflection = await startEchoServer({ reflection: true });
const withoutReflection = await startEchoServer();
t.teardown(() => withReflection.close());
t.teardown(() => withoutReflection.close());

async function run(config: Record<string, string>, executor: Executor = grpcExecutor, signal = new AbortController().signal) {
  let output = '';
  const result = await executor.execute({ jobName: 'j', config, executionId: '1', scheduledAtMs: 0, attempt: 1 }, { write: (c) => (output += Buffer.from(c).toString()) }, signal);
  return { result, output };
}

const say = (address: string) => `${address}/test.Echo/Say`;

t.test('a call found by reflection: the JSON body goes in, the response comes out as JSON', async (t) => {
  const body = { text: 'hi', repeat_count: 2, inner: { noteText: 'note', big_number: '12345678901234567' }, tags: ['a', 'b'], mood: 'HAPPY', blob: Buffer.from('bytes').toString('base64') };
  const { result, output } = await run({ url: say(withReflection.address), body: JSON.stringify(body) });
  t.same(result, { success: true, exitCode: 0, error: '' });
  t.same(JSON.parse(output), { text: 'hihi', inner: { noteText: 'note', bigNumber: '12345678901234567' }, tags: ['a', 'b'], mood: 'HAPPY', blob: body.blob },
    'snake_case and JSON names both accepted; JSON names out; int64 as a string; bytes as base64');
});

t.test('well-known types in their JSON forms', async (t) => {
  const body = { at: '2024-05-06T07:08:09.120Z', wait: '-1.500s', label: 'tagged' };
  for (const config of [{ url: say(withReflection.address) }, { url: say(withoutReflection.address), protoFile: echoProtoPath }]) {
    const { result, output } = await run({ ...config, body: JSON.stringify(body) });
    t.same(result, { success: true, exitCode: 0, error: '' });
    t.same(JSON.parse(output), body, config.url);
  }
  t.same(JSON.parse((await run({ url: say(withReflection.address), body: '{"at": "2024-05-06T09:08:09.000000001+02:00", "wait": "3s"}' })).output),
    { at: '2024-05-06T07:08:09.000000001Z', wait: '3s' }, 'an offset, nanoseconds');
  t.match((await run({ url: say(withReflection.address), body: '{"at": "yesterday"}' })).result, { success: false, error: /at must be an RFC 3339 time/ });
  t.match((await run({ url: say(withReflection.address), body: '{"wait": "5m"}' })).result, { success: false, error: /wait must be a duration such as "1\.5s"/ });
});

t.test('fields holding their default are left out, as proto3 JSON does', async (t) => {
  const { output } = await run({ url: say(withReflection.address), body: '{"text": "", "mood": "MOOD_UNSPECIFIED", "repeatCount": 0, "tags": []}' });
  t.same(JSON.parse(output), {});
});

t.test('a server with only the older v1alpha reflection', async (t) => {
  const older = await startEchoServer({ reflection: 'v1alpha' });
  t.teardown(() => older.close());
  const { result, output } = await run({ url: say(older.address), body: '{"text":"old"}' });
  t.same(result, { success: true, exitCode: 0, error: '' });
  t.same(JSON.parse(output), { text: 'old' });
});

t.test('headers are sent as metadata, in each accepted form', async (t) => {
  for (const headers of ['["X-Trace: abc", "x-user: ann"]', '{"x-trace": "abc", "X-User": "ann"}', 'x-trace: abc, x-user: ann', 'x-trace: abc\nx-user: ann']) {
    const { result, output } = await run({ url: say(withReflection.address), body: '{"text":"h"}', headers });
    t.equal(result.success, true, headers);
    t.same(JSON.parse(output).metadata, { 'x-trace': 'abc', 'x-user': 'ann' }, headers);
  }
  t.match((await run({ url: say(withReflection.address), headers: '["no colon"]' })).result, { success: false, error: /header "no colon" is not "key: value"/ });
  t.same(parseHeaders('{"a": 1}'), [['a', '1']]);
});

t.test('a map field goes in and out as a JSON object', async (t) => {
  // SayReply.metadata is a map; the reply echoes the x-* headers into it.
  const { output } = await run({ url: say(withoutReflection.address), protoFile: echoProtoPath, body: '{"text":"m"}', headers: 'x-k: v' });
  t.same(JSON.parse(output), { text: 'm', metadata: { 'x-k': 'v' } });
});

t.test('without reflection: protoFile, or a clear message', async (t) => {
  t.match((await run({ url: say(withoutReflection.address), body: '{"text":"x"}' })).result, { success: false, error: 'server has no reflection; set protoFile' });
  const { result, output } = await run({ url: say(withoutReflection.address), body: '{"text":"x"}', protoFile: echoProtoPath });
  t.same(result, { success: true, exitCode: 0, error: '' });
  t.same(JSON.parse(output), { text: 'x' }, 'empty fields are left out, as proto3 JSON does');
  t.match((await run({ url: say(withoutReflection.address), protoFile: '/no/such/file.proto' })).result, { success: false, error: /protoFile \/no\/such\/file\.proto/ });
});

t.test('unknown service or method', async (t) => {
  t.match((await run({ url: `${withReflection.address}/test.Nope/Say` })).result, { success: false, error: 'service test.Nope is not on the server (it offers: test.Echo)' });
  t.match((await run({ url: `${withReflection.address}/test.Echo/Shout` })).result, { success: false, error: 'method Shout is not in service test.Echo (methods: Say, Fail, Slow)' });
  t.match((await run({ url: `${withoutReflection.address}/test.Nope/Say`, protoFile: echoProtoPath })).result, { success: false, error: /service test\.Nope is not in protoFile .* \(services: test\.Echo\)/ });
});

t.test('bad bodies', async (t) => {
  const url = say(withReflection.address);
  const before = withReflection.calls.get('Say');
  t.match((await run({ url, body: '{"text": ' })).result, { success: false, error: /body is not valid JSON/ });
  t.match((await run({ url, body: '{"txt": "x"}' })).result, { success: false, error: /unknown field "txt" in message test\.SayRequest \(fields: text, repeatCount, inner, tags, mood, blob, at, wait, label\)/ });
  t.match((await run({ url, body: '{"repeatCount": "many"}' })).result, { success: false, error: /repeatCount must be a number, not "many"/ });
  t.match((await run({ url, body: '{"inner": {"noteText": 5}}' })).result, { success: false, error: /inner\.noteText must be a string/ });
  t.match((await run({ url, body: '[1]' })).result, { success: false, error: /the body must be a JSON object/ });
  t.equal(withReflection.calls.get('Say'), before, 'none of the bad bodies reached the server');
});

t.test('expectCode', async (t) => {
  const url = `${withReflection.address}/test.Echo/Fail`;
  t.same((await run({ url, body: '{"code": 5, "message": "no such thing"}' })).result, { success: false, exitCode: 5, error: 'calling /test.Echo/Fail: status NOT_FOUND (5): no such thing' });
  for (const expectCode of ['5', 'NOT_FOUND', 'NotFound']) {
    const { result, output } = await run({ url, body: '{"code": 5, "message": "no such thing"}', expectCode });
    t.same(result, { success: true, exitCode: 5, error: '' }, expectCode);
    t.equal(output, 'status NOT_FOUND: no such thing\n');
  }
  t.match((await run({ url, body: '{"code": 7}', expectCode: 'NOT_FOUND' })).result, { success: false, exitCode: 7, error: /PERMISSION_DENIED \(7\).*\(expected NOT_FOUND\)/ });
  t.match((await run({ url: say(withReflection.address), expectCode: '5' })).result, { success: false, exitCode: 0, error: '/test.Echo/Say answered OK, expected status NOT_FOUND' });
  t.match((await run({ url: say(withReflection.address), expectCode: '0' })).result, { success: true });
});

t.test('deadline, unreachable server, stop', async (t) => {
  const slow = `${withReflection.address}/test.Echo/Slow`;
  t.match((await run({ url: slow, body: '{"delayMs": 60000}', timeout: '300ms' })).result, { success: false, exitCode: 4, error: /timed out after 0\.3s calling \/test\.Echo\/Slow/ });
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  t.match((await run({ url: `127.0.0.1:${port}/test.Echo/Say` })).result, { success: false, exitCode: 14, error: new RegExp(`cannot reach 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`) });
  t.match((await run({ url: `127.0.0.1:${port}/test.Echo/Say`, protoFile: echoProtoPath })).result, { success: false, error: /cannot reach .*ECONNREFUSED/ });
  const ac = new AbortController();
  const running = run({ url: slow, body: '{"delayMs": 60000}' }, grpcExecutor, ac.signal);
  const poll = setInterval(() => { if (withReflection.calls.get('Slow') === 2) ac.abort(); }, 5);
  t.match((await running).result, { success: false, error: 'stopped' });
  clearInterval(poll);
});

t.test('TLS, with and without verifying the server', async (t) => {
  const tlsServer = await startEchoServer({ reflection: true, tls: true });
  t.teardown(() => tlsServer.close());
  t.match((await run({ url: say(tlsServer.address), tls: 'true' })).result, { success: false, exitCode: 14, error: /cannot reach .* \(TLS\)/ }, 'an unknown CA is refused');
  const { result, output } = await run({ url: say(tlsServer.address), body: '{"text":"secure"}', tls: 'true', tlsInsecureSkipVerify: 'true' });
  t.same(result, { success: true, exitCode: 0, error: '' });
  t.equal(JSON.parse(output).text, 'secure');
  t.match((await run({ url: say(tlsServer.address), timeout: '2' })).result, { success: false }, 'plaintext to a TLS server fails');
});

t.test('validate', async (t) => {
  const url = say(withReflection.address);
  t.equal(grpcExecutor.validate({ url, timeout: '10', expectCode: 'unavailable', tls: 'T', body: '{}' }), null);
  t.equal(grpcExecutor.validate({ url, timeout: '1m30s' }), null);
  t.match(grpcExecutor.validate({}), /url is required/);
  t.match(grpcExecutor.validate({ url: 'localhost:50051/Say' }), /is not host:port\/package\.Service\/Method/);
  t.match(grpcExecutor.validate({ url, timeout: 'soon' }), /timeout must be seconds/);
  t.match(grpcExecutor.validate({ url, timeout: '0' }), /more than zero/);
  t.match(grpcExecutor.validate({ url, expectCode: '42' }), /expectCode must be a gRPC status code/);
  t.match(grpcExecutor.validate({ url, expectCode: 'SOMETIMES' }), /expectCode must be a gRPC status code/);
  t.match(grpcExecutor.validate({ url, tls: 'yes' }), /tls must be true or false/);
  t.match(grpcExecutor.validate({ url, headers: '[1]' }), /headers must be a JSON array of "key: value" strings/);
  t.match(grpcExecutor.validate({ url, body: 'text' }), /body is not valid JSON/);
  t.match((await run({ url: 'nonsense' })).result, { success: false, error: /is not host:port/ });
});

t.test('as a plugin program through the host', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-grpc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'clocktower-executor-grpc');
  writeFileSync(path, `#!/bin/sh\nexec "${process.execPath}" "${resolve('dist/plugins/executors/grpc/main.js')}" "$@"\n`);
  chmodSync(path, 0o755);
  const plugin = new PluginExecutor('grpc', path);
  t.teardown(() => plugin.close());
  const { result, output } = await run({ url: say(withReflection.address), body: '{"text":"via plugin"}', headers: '["x-from: plugin"]' }, plugin);
  t.same(result, { success: true, exitCode: 0, error: '' });
  t.same(JSON.parse(output), { text: 'via plugin', metadata: { 'x-from': 'plugin' } });
  t.match((await run({ url: say(withoutReflection.address) }, plugin)).result, { success: false, error: 'server has no reflection; set protoFile' });
});
