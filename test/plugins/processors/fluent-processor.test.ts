// The fluent processor against a real forward-protocol listener on
// 127.0.0.1 that decodes what it receives, and its msgpack encoder against
// the spec's byte layouts.

import t from 'tap';
import { FluentProcessor } from '../../../plugins/processors/fluent/fluent-processor.js';
import { decodeStringMap, encode, EventTime } from '../../../plugins/processors/fluent/msgpack.js';
import type { ExecutionRecord } from '../../../plugins/sdk/processor.js';
import { fluentForward } from '../../support/log-receivers.js';
import { decodeAll } from '../../support/msgpack-decode.js';
import { freePort } from '../../support/free-port.js';

const fluent = new FluentProcessor();
const never = new AbortController().signal;
const execution: ExecutionRecord = {
  id: '42', jobName: 'backup', startedAtMs: Date.UTC(2026, 0, 2, 3, 4, 5), finishedAtMs: Date.UTC(2026, 0, 2, 3, 4, 6, 789), success: false,
  output: Buffer.from('some output ✓\n'), nodeName: 'node1', attempt: 1, group: '42', scheduledAtMs: Date.UTC(2026, 0, 2, 3, 4, 5),
};

t.test('one [tag, EventTime, record] message per execution', async (t) => {
  const rx = await fluentForward();
  t.teardown(() => rx.close());
  const out = await fluent.process(execution, { port: String(rx.port), tag: 'jobs.backup' }, never);
  t.equal(Buffer.from(out.output).toString(), 'Output sent to Fluent', 'without forward, a placeholder');
  const [message] = await rx.inbox.atLeast(1);
  t.same(message, ['jobs.backup', { eventTime: [Math.floor(execution.finishedAtMs / 1000), 789_000_000] }, {
    host: 'node1', job_name: 'backup', message: 'some output ✓\n', execution_id: '42', success: false, attempt: 1, group: '42',
    finished_at: '2026-01-02T03:04:06.789Z', started_at: '2026-01-02T03:04:05.000Z',
  }]);
});

t.test('a big output arrives whole; forward keeps it', async (t) => {
  const rx = await fluentForward();
  t.teardown(() => rx.close());
  const big = 'x'.repeat(300_000);
  const out = await fluent.process({ ...execution, output: Buffer.from(big) }, { host: '127.0.0.1', port: String(rx.port), forward: 'true' }, never);
  t.equal(Buffer.from(out.output).toString(), big);
  const [message] = await rx.inbox.atLeast(1);
  t.equal((message as [string, unknown, { message: string }])[0], 'clocktower', 'the default tag');
  t.equal((message as [string, unknown, { message: string }])[2].message, big);
});

t.test('require_ack_response: the chunk is acked before the call resolves', async (t) => {
  const rx = await fluentForward('right');
  t.teardown(() => rx.close());
  const out = await fluent.process(execution, { port: String(rx.port), require_ack_response: 'true', forward: 'true' }, never);
  t.equal(Buffer.from(out.output).toString(), 'some output ✓\n');
  const [message] = await rx.inbox.atLeast(1);
  t.match(message, ['clocktower', { eventTime: [] }, { job_name: 'backup' }, { chunk: /^[A-Za-z0-9+/]{22}==$/ }]);
});

t.test('require_ack_response: a wrong ack, no ack before the timeout, or a hang-up are errors', async (t) => {
  const wrong = await fluentForward('wrong');
  t.teardown(() => wrong.close());
  await t.rejects(fluent.process(execution, { port: String(wrong.port), require_ack_response: 'true' }, never), {
    message: /^fluent 127\.0\.0\.1:\d+: the receiver answered \{"ack":"not-your-chunk"\} instead of acking chunk /,
  });
  const silent = await fluentForward('never');
  t.teardown(() => silent.close());
  const abort = new AbortController();
  const call = fluent.process(execution, { port: String(silent.port), require_ack_response: 'true' }, abort.signal);
  await silent.inbox.atLeast(1);
  abort.abort(new Error('timed out after 10 ms'));
  await t.rejects(call, { message: /timed out after 10 ms/ });
  const rude = await fluentForward('hang-up');
  t.teardown(() => rude.close());
  await t.rejects(fluent.process(execution, { port: String(rude.port), require_ack_response: 'true' }, never), {
    message: /^fluent 127\.0\.0\.1:\d+: the receiver closed the connection without answering$/,
  });
});

t.test('a closed port is a clear error', async (t) => {
  const port = await freePort();
  await t.rejects(fluent.process(execution, { port: String(port) }, never), { message: new RegExp(`^fluent 127.0.0.1:${port}: connect ECONNREFUSED`) });
});

t.test('bad configs are refused', async (t) => {
  t.match(fluent.validate({ port: 'http' }), /port must be a number from 1 to 65535, got "http"/);
  t.match(fluent.validate({ port: '0' }), /port must be a number/);
  t.match(fluent.validate({ host: 'a b' }), /host must be a host name or address/);
  t.match(fluent.validate({ tag: '' }), /tag cannot be empty/);
  t.match(fluent.validate({ require_ack_response: 'yes' }), /require_ack_response must be "true" or "false", got "yes"/);
  t.match(fluent.validate({ FLUENTBIT_HOST: 'x' }), /unknown config key "FLUENTBIT_HOST"/);
  t.equal(fluent.validate({}), null);
});

t.test('msgpack: the encodings the spec gives', async (t) => {
  const hex = (v: Parameters<typeof encode>[0]) => encode(v).toString('hex');
  t.equal(hex(null), 'c0');
  t.equal(hex(true), 'c3');
  t.equal(hex(false), 'c2');
  t.equal(hex(0), '00');
  t.equal(hex(127), '7f');
  t.equal(hex(128), 'cc80');
  t.equal(hex(256), 'cd0100');
  t.equal(hex(65536), 'ce00010000');
  t.equal(hex(2 ** 32), 'cf0000000100000000');
  t.equal(hex(-1), 'ff');
  t.equal(hex(-32), 'e0');
  t.equal(hex(-33), 'd0df');
  t.equal(hex(-129), 'd1ff7f');
  t.equal(hex(-32769), 'd2ffff7fff');
  t.equal(hex(-(2 ** 31) - 1), 'd3ffffffff7fffffff');
  t.equal(hex(1.5), 'cb3ff8000000000000');
  t.equal(hex('a'), 'a161');
  t.equal(hex('x'.repeat(32)).slice(0, 4), 'd920');
  t.equal(hex('x'.repeat(256)).slice(0, 6), 'da0100');
  t.equal(hex('x'.repeat(65536)).slice(0, 10), 'db00010000');
  t.equal(hex(Buffer.from([1, 2])), 'c4020102');
  t.equal(hex([1, 2]), '920102');
  t.equal(hex({ a: 1 }), '81a16101');
  t.equal(hex(new EventTime(1, 2)), 'd7000000000100000002');
  const big = Array.from({ length: 70_000 }, (_, i) => i % 3);
  t.equal(hex(big).slice(0, 10), 'dd00011170');
  const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]));
  t.equal(hex(many).slice(0, 6), 'de0014');
  t.same(decodeAll(encode(['t', new EventTime(5, 6), { s: 'ü', n: -200, f: 0.25, b: Buffer.from('hi'), l: [null, true] }])), [
    ['t', { eventTime: [5, 6] }, { s: 'ü', n: -200, f: 0.25, b: Buffer.from('hi'), l: [null, true] }],
  ], 'a round trip through the test decoder');
  t.same(decodeStringMap(encode({ ack: 'abc', other: 'x'.repeat(40) })), { map: { ack: 'abc', other: 'x'.repeat(40) }, length: 1 + 4 + 4 + 6 + 2 + 40 });
  const whole = encode({ ack: 'abc' });
  t.equal(decodeStringMap(whole.subarray(0, whole.length - 1)), null, 'a partial answer is not yet an answer');
  t.throws(() => decodeStringMap(encode([1])), /expected a msgpack map/);
});
