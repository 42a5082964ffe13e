// The syslog processor: sends each execution's output to a syslog server as
// RFC 5424 messages, one message per output line (long lines are split at
// 8 KiB), over UDP (RFC 5426) or TCP (RFC 6587 framing). Every message
// carries the structured data [clocktower@32473 job= execution= attempt=
// group= success= node=] so a receiver can put an execution's lines back
// together. Severity is info for a success and err for a failure.
//
// Dkron's syslog processor writes to the local syslog only; this one takes
// an address. Config:
//   url          udp://host:port or tcp://host:port (port defaults to 514)
//   network      udp | tcp — with `address` host:port, instead of `url`
//   facility     default cron (Dkron's); kern, user, ..., local0..local7
//   tag          APP-NAME, default clocktower
//   framing      TCP only: octet-counting (default) | newline
//   forward      "true" keeps the output in the execution record;
//                otherwise it is replaced by "Output in syslog"
// Without url / network, messages go to udp://127.0.0.1:514.

import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { abortable, forwardedOr, unknownKey, type ExecutionRecord, type Processor } from '../../sdk/processor.js';
import { sendOverTcp } from '../../sdk/tcp-send.js';
import { facilities, formatRfc5424, frame, outputLines, severities, type Framing } from './rfc5424.js';

const maxLineBytes = 8 * 1024;
/** The SD-ID: RFC 5612's example enterprise number, as unregistered software does. */
const sdId = 'clocktower@32473';

export interface SyslogSettings {
  readonly network: 'udp' | 'tcp';
  readonly host: string;
  readonly port: number;
  readonly facility: number;
  readonly tag: string;
  readonly framing: Framing;
}

const keys = ['url', 'network', 'address', 'facility', 'tag', 'framing', 'forward'];

/** The settings a config asks for, or an error message. */
export function syslogSettings(config: Readonly<Record<string, string>>): SyslogSettings | string {
  const unknown = unknownKey('syslog', config, keys);
  if (unknown) return unknown;
  const { url, network, address } = config;
  let where: { network: 'udp' | 'tcp'; host: string; port: number };
  if (url !== undefined && (network !== undefined || address !== undefined)) {
    return 'processor syslog: give either url or network and address, not both';
  } else if (url !== undefined) {
    const m = /^(udp|tcp):\/\/(\[[^\]]+\]|[^:/[\]]+)(?::(\d+))?\/?$/.exec(url);
    if (!m) return `processor syslog: url must look like udp://host:port or tcp://host:port, got ${JSON.stringify(url)}`;
    where = { network: m[1] as 'udp' | 'tcp', host: unbracket(m[2] ?? ''), port: m[3] === undefined ? 514 : Number(m[3]) };
  } else if (network !== undefined || address !== undefined) {
    if (network !== 'udp' && network !== 'tcp') return `processor syslog: network must be udp or tcp, got ${JSON.stringify(network ?? '')}`;
    const m = /^(\[[^\]]+\]|[^:[\]]+):(\d+)$/.exec(address ?? '');
    if (!m) return `processor syslog: address must be host:port, got ${JSON.stringify(address ?? '')}`;
    where = { network, host: unbracket(m[1] ?? ''), port: Number(m[2]) };
  } else {
    where = { network: 'udp', host: '127.0.0.1', port: 514 };
  }
  if (!Number.isInteger(where.port) || where.port < 1 || where.port > 65535) return `processor syslog: port ${where.port} is out of range`;
  const facilityName = config['facility'] ?? 'cron';
  const facility = facilities[facilityName];
  if (facility === undefined) return `processor syslog: unknown facility ${JSON.stringify(facilityName)} (known: ${Object.keys(facilities).join(', ')})`;
  const framing = config['framing'] ?? 'octet-counting';
  if (framing !== 'octet-counting' && framing !== 'newline') return `processor syslog: framing must be octet-counting or newline, got ${JSON.stringify(framing)}`;
  return { ...where, facility, tag: config['tag'] ?? 'clocktower', framing };
}

function unbracket(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

export class SyslogProcessor implements Processor {
  readonly name = 'syslog';

  validate(config: Readonly<Record<string, string>>): string | null {
    const s = syslogSettings(config);
    return typeof s === 'string' ? s : null;
  }

  async process(execution: ExecutionRecord, config: Readonly<Record<string, string>>, signal: AbortSignal): Promise<ExecutionRecord> {
    const s = syslogSettings(config);
    if (typeof s === 'string') throw new Error(s);
    const messages = syslogMessages(execution, s);
    const to = `${s.network}://${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;
    try {
      if (s.network === 'udp') await sendUdp(s, messages, signal);
      else await sendTcp(s, messages, signal);
    } catch (err) {
      throw new Error(`syslog ${to}: ${(err as Error).message}`, { cause: err });
    }
    return forwardedOr(execution, config, 'Output in syslog');
  }
}

/** The RFC 5424 messages for one execution, one per output line. */
export function syslogMessages(e: ExecutionRecord, s: SyslogSettings): Buffer[] {
  const lines = outputLines(Buffer.from(e.output), maxLineBytes);
  if (lines.length === 0) lines.push('(no output)');
  const params: [string, string][] = [
    ['job', e.jobName], ['execution', e.id], ['attempt', String(e.attempt)], ['group', e.group],
    ['success', String(e.success)], ['node', e.nodeName],
  ];
  return lines.map((message) => Buffer.from(formatRfc5424({
    facility: s.facility,
    severity: e.success ? severities.info : severities.err,
    timestampMs: e.finishedAtMs,
    hostname: e.nodeName,
    appName: s.tag,
    msgId: 'output',
    data: { id: sdId, params },
    message,
  })));
}

async function sendUdp(s: SyslogSettings, messages: readonly Buffer[], signal: AbortSignal): Promise<void> {
  const { address, family } = await abortable(signal, lookup(s.host));
  const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
  const failed = new Promise<never>((_, reject) => socket.once('error', reject));
  try {
    // All datagrams are queued at once; the socket sends them in order.
    const sent = messages.map((m) => new Promise<void>((resolve, reject) => {
      socket.send(m, s.port, address, (err) => (err ? reject(err) : resolve()));
    }));
    await abortable(signal, Promise.race([failed, Promise.all(sent)]));
  } finally {
    failed.catch(() => {});
    socket.close();
  }
}

function sendTcp(s: SyslogSettings, messages: readonly Buffer[], signal: AbortSignal): Promise<void> {
  return sendOverTcp(s.host, s.port, Buffer.concat(messages.map((m) => frame(m, s.framing))), signal);
}
