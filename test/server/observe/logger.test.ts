// The operator logger: JSON and text lines, levels, and what it never writes.
import t from 'tap';
import { createLogger, type LoggerOptions } from '../../../server/observe/logger.js';

function capture(options: Partial<LoggerOptions> = {}) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', format: 'json', node: 'n1', write: (l) => lines.push(l), ...options });
  return { logger, lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

t.test('JSON: one object per line with time, level, the reporting node, msg and the fields', async (t) => {
  const { logger, lines, json } = capture();
  logger.info('execution finished', { job: 'j', execution: '7', node: 'a1', state: 'succeeded', duration_ms: 12 });
  t.equal(lines.length, 1);
  t.ok(lines[0]?.endsWith('\n'));
  t.match(json()[0], { level: 'info', reporting_node: 'n1', msg: 'execution finished', job: 'j', execution: '7', node: 'a1', state: 'succeeded', duration_ms: 12 });
  t.match(json()[0]?.['time'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

t.test('levels below --log-level are dropped', async (t) => {
  const { logger, json } = capture({ level: 'warn' });
  logger.debug('d');
  logger.info('i');
  logger.warn('w');
  logger.error('e');
  t.same(json().map((o) => o['level']), ['warn', 'error']);
  const all = capture({ level: 'debug' });
  all.logger.debug('d');
  t.same(all.json().map((o) => o['level']), ['debug']);
});

t.test('text: TIME LEVEL msg key=value', async (t) => {
  const { logger, lines } = capture({ format: 'text' });
  logger.warn('agents: a1 disconnected', { agent: 'a1', reason: 'silent for 15s' });
  t.match(lines[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z WARN agents: a1 disconnected agent=a1 reason="silent for 15s"\n$/);
  t.notMatch(lines[0], /reporting_node/);
});

t.test('secrets never reach the destination', async (t) => {
  for (const format of ['json', 'text'] as const) {
    const { logger, lines } = capture({ format });
    logger.addSecret('the-api-token-1234');
    logger.info('request with Bearer the-api-token-1234 refused');
    logger.info('job saved', { executor_config: { url: 'nats://x', password: 'pw-1', token: 'tk-2', saslPassword: 'sp-3', nested: [{ api_key: 'ak-4' }] } });
    logger.warn('rabbitmq: cannot connect to amqp://guest:pw-in-url-5@127.0.0.1:5672/vhost');
    const all = lines.join('');
    for (const s of ['the-api-token-1234', 'pw-1', 'tk-2', 'sp-3', 'ak-4', 'pw-in-url-5']) t.notOk(all.includes(s), `${format}: no ${s}`);
    t.match(all, /\[redacted\]/);
    t.match(all, /amqp:\/\/guest:\[redacted\]@127\.0\.0\.1:5672/, `${format}: the URL stays readable`);
    t.match(all, /nats:\/\/x/);
  }
});

t.test('an Error as a field is its message and code', async (t) => {
  const { logger, json } = capture();
  logger.error('failed', { err: Object.assign(new Error('boom'), { code: 'CT_X' }) });
  t.match(json()[0], { err: { message: 'boom', code: 'CT_X' } });
});
