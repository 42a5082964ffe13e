// The private RabbitMQ node the broker tests use: it starts, takes a login,
// answers rabbitmqctl, and stops without leaving a process behind.

import t from 'tap';
import amqp from 'amqplib';
import { startRabbitmqServer } from './rabbitmq-server.js';

t.test('start, log in, rabbitmqctl, stop', async (t) => {
  const started = performance.now();
  const broker = await startRabbitmqServer({ user: 'u1', pass: 'p1' });
  t.comment(`ready after ${Math.round(performance.now() - started)} ms`);
  const conn = await amqp.connect(broker.url);
  const ch = await conn.createChannel();
  await ch.assertQueue('support-check');
  t.match(await broker.ctl(['list_queues', 'name']), /support-check/);
  await conn.close();
  await t.rejects(amqp.connect(`amqp://u1:wrong@127.0.0.1:${broker.port}`), /ACCESS-REFUSED/);
  await broker.stop();
  await t.rejects(amqp.connect(broker.url), /ECONNREFUSED/);
});
