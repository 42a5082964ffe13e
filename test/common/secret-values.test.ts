// Secret executor_config values of every bundled executor are hidden, and
// nothing else is touched.

import t from 'tap';
import { hasSecrets, isSecretKey, redactConfig, redacted, restoreRedacted } from '../../common/secret-values.js';

t.test('secret key names', async (t) => {
  for (const k of ['password', 'saslPassword', 'token', 'secret', 'client_secret', 'api_key', 'accessKey', 'private_key', 'credentials', 'passwd', 'authorization']) t.ok(isSecretKey(k), k);
  for (const k of ['key', 'command', 'url', 'topic', 'saslUsername', 'userName', 'keyboard', 'monkey', 'subject', 'env', 'headers', 'tlsEnable']) t.notOk(isSecretKey(k), k);
});

t.test('the bundled executors\' secrets', async (t) => {
  t.same(redactConfig({ brokerAddress: 'k:9092', topic: 't', key: 'order-1', saslUsername: 'u', saslPassword: 'p', saslMechanism: 'sha256' }),
    { brokerAddress: 'k:9092', topic: 't', key: 'order-1', saslUsername: 'u', saslPassword: redacted, saslMechanism: 'sha256' }, 'kafka');
  t.same(redactConfig({ url: 'nats://a:pw1@h1:4222,nats://b:pw2@h2:4222', subject: 's', userName: 'u', password: 'p', token: 'tk' }),
    { url: `nats://a:${redacted}@h1:4222,nats://b:${redacted}@h2:4222`, subject: 's', userName: 'u', password: redacted, token: redacted }, 'nats');
  t.same(redactConfig({ url: 'amqps://user:s3cret@mq:5671/vhost', exchange: 'x' }), { url: `amqps://user:${redacted}@mq:5671/vhost`, exchange: 'x' }, 'rabbitmq');
  t.same(redactConfig({ method: 'GET', url: 'https://h/x', headers: '["Authorization: Bearer abc","Accept: */*","X-Api-Key: k"]' }),
    { method: 'GET', url: 'https://h/x', headers: `["Authorization: ${redacted}","Accept: */*","X-Api-Key: ${redacted}"]` }, 'http');
  t.same(redactConfig({ command: 'psql', env: 'PGHOST=db,PGPASSWORD=x,API_TOKEN=y,PLAIN=z' }), { command: 'psql', env: `PGHOST=db,PGPASSWORD=${redacted},API_TOKEN=${redacted},PLAIN=z` }, 'shell env');
});

t.test('nothing secret: the same object, untouched', async (t) => {
  const c = { command: 'echo https://example.com/a:b', shell: 'true', password: '' };
  t.equal(redactConfig(c), c);
  t.notOk(hasSecrets(c));
  t.ok(hasSecrets({ token: 'x' }));
});

t.test('a redacted config saved back keeps the stored secrets; changed values win', async (t) => {
  const stored = { url: 'nats://a:pw@h:4222', password: 'p', subject: 's' };
  const shown = redactConfig(stored);
  t.same(restoreRedacted(shown, stored), stored);
  t.same(restoreRedacted({ ...shown, password: 'new', subject: 't' }, stored), { url: 'nats://a:pw@h:4222', password: 'new', subject: 't' });
  t.same(restoreRedacted({ ...shown, url: `nats://a:${redacted}@other:4222` }, stored), { url: `nats://a:${redacted}@other:4222`, password: 'p', subject: 's' }, 'a changed URL is taken as it is');
  t.same(restoreRedacted(shown, undefined), shown, 'no stored job: nothing to restore');
});

t.test('keys an executor declares secret are redacted as secret-named ones are; an unknown declaration hides every value', async (t) => {
  const c = { dsn: 'postgres://db/x', signing_material: 'abc', region: 'eu', password: 'p', empty: '' };
  t.same(redactConfig(c, ['dsn', 'signing_material']), { dsn: redacted, signing_material: redacted, region: 'eu', password: redacted, empty: '' });
  t.same(redactConfig(c), { ...c, password: redacted }, 'no declaration: the name rule alone');
  t.same(redactConfig(c, null), { dsn: redacted, signing_material: redacted, region: redacted, password: redacted, empty: '' }, 'not known yet: all of it');
  t.ok(hasSecrets({ dsn: 'x' }, ['dsn']));
  t.notOk(hasSecrets({ dsn: 'x' }));
  const shown = redactConfig(c, ['dsn']);
  t.same(restoreRedacted(shown, c, ['dsn']), c, 'a save of the redacted answer keeps the declared secret');
});
