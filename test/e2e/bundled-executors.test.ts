// The executors shipped as plugin programs (plugins/bundled) work in light
// mode with no setup: a job with `"executor": "nats"` publishes to a real
// nats-server through the bundled plugin process, and GET /v1/plugins lists
// every bundled executor; a bad config is refused when the job is saved.

import t from 'tap';
import { connect } from 'nats';
import { call, executions, startLight, tempDir, until } from '../support/light-process.js';
import { startNatsServer } from '../support/nats-server.js';

const tmp = tempDir('ct-bundled-');
const nats = await startNatsServer();
const light = await startLight(tmp.path);
t.teardown(async () => {
  await light.stop();
  await nats.stop();
  tmp.remove();
});

t.test('the bundled executors are listed', async (t) => {
  const res = await call(light.url, 'GET', '/v1/plugins');
  const names = (res.body as { executors: { name: string; builtin: boolean }[] }).executors.filter((e) => e.builtin).map((e) => e.name);
  for (const n of ['gcppubsub', 'grpc', 'http', 'kafka', 'nats', 'pubsub', 'rabbitmq', 'shell']) t.ok(names.includes(n), `${n} is there`);
});

t.test('a nats job publishes through the bundled plugin program', async (t) => {
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const sub = nc.subscribe('jobs.hello', { max: 1 });
  await nc.flush();
  const created = await call(light.url, 'POST', '/v1/jobs', {
    name: 'say-hello', schedule: '@manually', executor: 'nats',
    executor_config: { url: nats.url, subject: 'jobs.hello', message: 'hello from clocktower' },
  });
  t.equal(created.status, 201);
  t.equal((await call(light.url, 'POST', '/v1/jobs/say-hello/run')).status, 202);
  for await (const m of sub) t.equal(new TextDecoder().decode(m.data), 'hello from clocktower', 'the message arrived');
  const done = await until('the execution to finish', async () => {
    const [e] = await executions(light.url, 'say-hello');
    return e?.finished_at ? e : undefined;
  });
  t.equal(done.success, true, done.output);
});

t.test('a bundled executor checks its config when the job is saved', async (t) => {
  const res = await call(light.url, 'POST', '/v1/jobs', {
    name: 'no-subject', schedule: '@manually', executor: 'nats', executor_config: { url: nats.url },
  });
  t.equal(res.status, 400);
  t.match(res.body, { error: { field: 'executor_config', message: /subject/ } });
  t.equal((await call(light.url, 'GET', '/v1/jobs/no-subject')).status, 404, 'nothing was saved');
});

t.test('a nats job against a server that is not there fails and says why', async (t) => {
  await call(light.url, 'POST', '/v1/jobs', {
    name: 'nowhere', schedule: '@manually', executor: 'nats',
    executor_config: { url: 'nats://127.0.0.1:1', subject: 'x', message: 'y', timeout: '5s' },
  });
  await call(light.url, 'POST', '/v1/jobs/nowhere/run');
  const done = await until('the execution to finish', async () => {
    const [e] = await executions(light.url, 'nowhere');
    return e?.finished_at ? e : undefined;
  });
  t.equal(done.success, false);
  t.match(done.output, /127\.0\.0\.1:1|ECONNREFUSED|connect|reach/i);
});
