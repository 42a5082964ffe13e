// The syslog processor against real syslog listeners on 127.0.0.1: UDP,
// TCP with octet counting and with newline framing, and failures.

import t from 'tap';
import { SyslogProcessor } from '../../../plugins/processors/syslog/syslog-processor.js';
import type { ExecutionRecord } from '../../../plugins/sdk/processor.js';
import { parseRfc5424, tcpSyslog, udpSyslog } from '../../support/log-receivers.js';
import { freePort } from '../../support/free-port.js';

const syslog = new SyslogProcessor();
const never = new AbortController().signal;
const execution: ExecutionRecord = {
  id: '42', jobName: 'backup', startedAtMs: Date.UTC(2026, 0, 2, 3, 4, 5), finishedAtMs: Date.UTC(2026, 0, 2, 3, 4, 6, 789), success: true,
  output: Buffer.from('first line\nsecond "quoted" ] line\r\n\nünïcode ✓\n'), nodeName: 'node1', attempt: 2, group: '40', scheduledAtMs: Date.UTC(2026, 0, 2, 3, 4, 5),
};

t.test('UDP: one RFC 5424 message per output line, with the execution in structured data', async (t) => {
  const rx = await udpSyslog();
  t.teardown(() => rx.close());
  const out = await syslog.process(execution, { url: `udp://127.0.0.1:${rx.port}`, forward: 'true' }, never);
  t.equal(Buffer.from(out.output).toString(), Buffer.from(execution.output).toString(), 'forward keeps the output');
  const got = (await rx.inbox.atLeast(4)).map(parseRfc5424);
  t.same(got.map((m) => m.message), ['first line', 'second "quoted" ] line', '', 'ünïcode ✓']);
  for (const m of got) {
    t.match(m, {
      pri: 9 * 8 + 6, version: '1', timestamp: '2026-01-02T03:04:06.789Z', hostname: 'node1', appName: 'clocktower', procId: '-', msgId: 'output',
      sdId: 'clocktower@32473', params: { job: 'backup', execution: '42', attempt: '2', group: '40', success: 'true', node: 'node1' },
    });
  }
});

t.test('TCP with octet counting (the default): a failure is err severity, facility and tag as configured', async (t) => {
  const rx = await tcpSyslog('octet-counting');
  t.teardown(() => rx.close());
  const failed = { ...execution, success: false, output: Buffer.from('it broke\n') };
  const out = await syslog.process(failed, { network: 'tcp', address: `127.0.0.1:${rx.port}`, facility: 'local3', tag: 'nightly' }, never);
  t.equal(Buffer.from(out.output).toString(), 'Output in syslog', 'without forward, a placeholder');
  const [m] = (await rx.inbox.atLeast(1)).map(parseRfc5424);
  t.match(m, { pri: 19 * 8 + 3, appName: 'nightly', message: 'it broke', params: { success: 'false' } });
});

t.test('TCP with newline framing; empty output still says the execution happened', async (t) => {
  const rx = await tcpSyslog('newline');
  t.teardown(() => rx.close());
  await syslog.process({ ...execution, output: Buffer.alloc(0) }, { url: `tcp://127.0.0.1:${rx.port}`, framing: 'newline' }, never);
  const got = (await rx.inbox.atLeast(1)).map(parseRfc5424);
  t.same(got.map((m) => m.message), ['(no output)']);
});

t.test('a long line is split into messages of at most 8 KiB, never inside a character', async (t) => {
  const rx = await tcpSyslog();
  t.teardown(() => rx.close());
  const line = 'é'.repeat(10_000); // 20,000 bytes
  await syslog.process({ ...execution, output: Buffer.from(`${line}\n`) }, { url: `tcp://127.0.0.1:${rx.port}` }, never);
  const got = (await rx.inbox.atLeast(3)).map(parseRfc5424);
  t.equal(got.length, 3);
  t.equal(got.map((m) => m.message).join(''), line);
  for (const m of got) t.ok(Buffer.byteLength(m.message) <= 8192);
});

t.test('a closed TCP port is a clear error', async (t) => {
  const port = await freePort();
  await t.rejects(syslog.process(execution, { url: `tcp://127.0.0.1:${port}` }, never), { message: new RegExp(`^syslog tcp://127.0.0.1:${port}: connect ECONNREFUSED`) });
});

t.test('an aborted send stops', async (t) => {
  const abort = new AbortController();
  abort.abort(new Error('timed out after 1 ms'));
  const rx = await tcpSyslog();
  t.teardown(() => rx.close());
  await t.rejects(syslog.process(execution, { url: `tcp://127.0.0.1:${rx.port}` }, abort.signal), { message: /timed out after 1 ms/ });
});

t.test('bad configs are refused with a message naming the key', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ url: 'http://example.com' }, /url must look like udp:\/\/host:port/],
    [{ url: 'udp://h:70000' }, /port 70000 is out of range/],
    [{ network: 'sctp', address: 'h:514' }, /network must be udp or tcp/],
    [{ network: 'tcp', address: 'no-port' }, /address must be host:port/],
    [{ url: 'udp://h:514', network: 'udp' }, /either url or network and address, not both/],
    [{ facility: 'kitchen' }, /unknown facility "kitchen"/],
    [{ framing: 'stx' }, /framing must be octet-counting or newline/],
    [{ forwad: 'true' }, /unknown config key "forwad"/],
  ];
  for (const [config, message] of cases) {
    t.match(syslog.validate(config), message, JSON.stringify(config));
    await t.rejects(syslog.process(execution, config, never), { message }, 'process refuses it too');
  }
  t.equal(syslog.validate({}), null, 'the default udp://127.0.0.1:514 is fine');
  t.equal(syslog.validate({ url: 'udp://[::1]:514', reporting_node: 'n1' }), null, 'IPv6 and reporting_node are fine');
});
