// Workflow sensors on a real nats-server, a real rabbitmq-server and the Kafka test server, through `clocktower light`: the
// task waits for the message of its run (matched by a key rendered from the
// run's parameters), the next task runs after it; a sensor that hears
// nothing fails at its timeout.

import t from 'tap';
import { connect } from 'nats';
import { call, executions, startLight, tempDir, until } from '../support/light-process.js';
import { startNatsServer } from '../support/nats-server.js';
import { startRabbitmqServer } from '../support/rabbitmq-server.js';
import amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaWireServer } from '../support/kafka-wire-server.js';

const broker = await startNatsServer();
t.teardown(() => broker.stop());
const dir = tempDir();
const server = await startLight(dir.path);
t.teardown(async () => {
  await server.stop();
  dir.remove();
});
const url = server.url;
const pub = await connect({ servers: broker.url });
t.teardown(() => pub.close());

interface RunJson { id: string; state: string; tasks: { job: string; state: string; reason: string }[] }

async function put(job: Record<string, unknown>): Promise<void> {
  const res = await call(url, 'POST', '/v1/jobs', job);
  if (res.status !== 201) throw new Error(`put: ${res.status} ${res.text}`);
}

t.test('a nats sensor matched by key from a parameter', async (t) => {
  await put({ name: 'order', schedule: '@manually', parameters: { order_number: '0' }, executor: 'shell', executor_config: { command: 'echo ordered' } });
  await put({
    name: 'await-payment', depends_on: [{ job: 'order' }], executor: 'nats',
    executor_config: { url: broker.url, mode: 'wait', subject: 'payments.>', key_path: 'order', key: '{{ .Params.order_number }}', timeout: '20s' },
  });
  await put({ name: 'ship', depends_on: [{ job: 'await-payment', output_matches: '"paid":true' }], executor: 'shell', executor_config: { command: 'echo shipped' } });
  const started = await call(url, 'POST', '/v1/jobs/order/run', { parameters: { order_number: '7' } });
  const id = (started.body as { run_id: string }).run_id;
  await until('the sensor to wait', async () => (((await call(url, 'GET', `/v1/runs/${id}`)).body as RunJson).tasks.find((x) => x.job === 'await-payment')?.state === 'running' ? true : undefined));
  // Until the run has it: another order's payment passes by, this one's is taken.
  const run = await until('the run to end', async () => {
    pub.publish('payments.card', JSON.stringify({ order: '6', paid: true }));
    pub.publish('payments.card', JSON.stringify({ order: '7', paid: true }));
    await pub.flush();
    const r = (await call(url, 'GET', `/v1/runs/${id}`)).body as RunJson;
    return r.state === 'running' ? undefined : r;
  });
  t.equal(run.state, 'succeeded', JSON.stringify(run));
  const [sensor] = await executions(url, 'await-payment');
  t.same(JSON.parse(sensor?.output ?? ''), { order: '7', paid: true }, 'the message of this run is the output');
  t.equal((await executions(url, 'ship'))[0]?.output, 'shipped\n');
});

t.test('a sensor that hears nothing fails at its timeout', async (t) => {
  await put({ name: 'quiet', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });
  await put({ name: 'quiet-wait', depends_on: [{ job: 'quiet' }], executor: 'nats', executor_config: { url: broker.url, mode: 'wait', subject: 'nobody.talks', timeout: '1s' } });
  const started = await call(url, 'POST', '/v1/jobs/quiet/run');
  const id = (started.body as { run_id: string }).run_id;
  const run = await until('the run to end', async () => {
    const r = (await call(url, 'GET', `/v1/runs/${id}`)).body as RunJson;
    return r.state === 'running' ? undefined : r;
  });
  t.equal(run.state, 'failed');
  t.match(run.tasks.find((x) => x.job === 'quiet-wait'), { state: 'failed', reason: /no message on "nobody.talks" within 1s/ });
});

t.test('a rabbitmq sensor on a topic exchange, matched by key from a parameter', async (t) => {
  const rabbit = await startRabbitmqServer();
  t.teardown(() => rabbit.stop());
  const conn = await amqp.connect(rabbit.url);
  t.teardown(() => conn.close().catch(() => {}));
  const ch = await conn.createChannel();
  await put({ name: 'r-order', schedule: '@manually', executor: 'shell', executor_config: { command: 'echo ordered' } });
  await put({
    name: 'r-await', depends_on: [{ job: 'r-order' }], executor: 'rabbitmq',
    executor_config: { url: rabbit.url, mode: 'wait', exchange: 'amq.topic', 'queue.name': 'shipments.*', key_path: 'id', key: '{{ .Params.id }}', timeout: '20s' },
  });
  const started = await call(url, 'POST', '/v1/jobs/r-order/run', { parameters: { id: 'abc' } });
  const id = (started.body as { run_id: string }).run_id;
  const run = await until('the run to end', async () => {
    ch.publish('amq.topic', 'shipments.eu', Buffer.from(JSON.stringify({ id: 'other' })));
    ch.publish('amq.topic', 'shipments.eu', Buffer.from(JSON.stringify({ id: 'abc', carrier: 'post' })));
    const r = (await call(url, 'GET', `/v1/runs/${id}`)).body as RunJson;
    return r.state === 'running' ? undefined : r;
  }, 30_000);
  t.equal(run.state, 'succeeded', JSON.stringify(run));
  t.same(JSON.parse((await executions(url, 'r-await'))[0]?.output ?? ''), { id: 'abc', carrier: 'post' });
});

t.test('a kafka sensor: a message sent once, after the run reached the sensor, is found', async (t) => {
  const broker = await KafkaWireServer.start({ topics: { events: 1 } });
  t.teardown(() => broker.close());
  const producer = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  await put({ name: 'k-root', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });
  await put({
    name: 'k-await', depends_on: [{ job: 'k-root' }], executor: 'kafka',
    executor_config: { brokerAddress: broker.address, topic: 'events', mode: 'wait', key_path: 'ref', key: '{{ .Params.ref }}', timeout: '20s' },
  });
  const started = await call(url, 'POST', '/v1/jobs/k-root/run', { parameters: { ref: 'r-9' } });
  const id = (started.body as { run_id: string }).run_id;
  await until('the sensor to be started', async () => (((await call(url, 'GET', `/v1/runs/${id}`)).body as RunJson).tasks.find((x) => x.job === 'k-await')?.state === 'running' ? true : undefined));
  await producer.send({ topic: 'events', messages: [{ value: JSON.stringify({ ref: 'r-8' }) }, { value: JSON.stringify({ ref: 'r-9', ok: true }) }] });
  const run = await until('the run to end', async () => {
    const r = (await call(url, 'GET', `/v1/runs/${id}`)).body as RunJson;
    return r.state === 'running' ? undefined : r;
  }, 30_000);
  t.equal(run.state, 'succeeded', JSON.stringify(run));
  t.same(JSON.parse((await executions(url, 'k-await'))[0]?.output ?? ''), { ref: 'r-9', ok: true });
});
