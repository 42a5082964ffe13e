// The fluent processor: sends each execution to Fluentd or Fluent Bit over
// the forward protocol (Message mode: one msgpack [tag, EventTime, record]
// on a TCP connection per execution). The record is Dkron's
// {host, job_name, message} plus execution_id, success, attempt, group,
// started_at and finished_at (RFC 3339).
//
// Dkron's fluent processor reads its address from environment variables;
// this one takes it from the job. Config:
//   host                  default 127.0.0.1
//   port                  default 24224
//   tag                   default clocktower
//   require_ack_response  "true": send a chunk id and wait for the
//                         receiver's {"ack": id} (at-least-once delivery,
//                         as Fluentd's out_forward option of that name)
//   forward               "true" keeps the output in the execution record;
//                         otherwise it is replaced by "Output sent to Fluent"

import { randomBytes } from 'node:crypto';
import { forwardedOr, unknownKey, type ExecutionRecord, type Processor } from '../../sdk/processor.js';
import { sendOverTcp } from '../../sdk/tcp-send.js';
import { decodeStringMap, encode, EventTime, type Value } from './msgpack.js';

export interface FluentSettings {
  readonly host: string;
  readonly port: number;
  readonly tag: string;
  readonly requireAck: boolean;
}

/** The settings a config asks for, or an error message. */
export function fluentSettings(config: Readonly<Record<string, string>>): FluentSettings | string {
  const unknown = unknownKey('fluent', config, ['host', 'port', 'tag', 'require_ack_response', 'forward']);
  if (unknown) return unknown;
  const host = config['host'] ?? '127.0.0.1';
  if (host === '' || /[\s/]/.test(host)) return `processor fluent: host must be a host name or address, got ${JSON.stringify(host)}`;
  const portText = config['port'] ?? '24224';
  const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return `processor fluent: port must be a number from 1 to 65535, got ${JSON.stringify(portText)}`;
  const tag = config['tag'] ?? 'clocktower';
  if (tag === '') return 'processor fluent: tag cannot be empty';
  const ack = config['require_ack_response'] ?? 'false';
  if (ack !== 'true' && ack !== 'false') return `processor fluent: require_ack_response must be "true" or "false", got ${JSON.stringify(ack)}`;
  return { host, port, tag, requireAck: ack === 'true' };
}

/** The forward-protocol message for one execution; with `chunk`, the receiver is asked to ack it. */
export function fluentMessage(e: ExecutionRecord, tag: string, chunk?: string): Buffer {
  const record: Record<string, Value> = {
    host: e.nodeName,
    job_name: e.jobName,
    message: Buffer.from(e.output).toString('utf8'),
    execution_id: e.id,
    success: e.success,
    attempt: e.attempt,
    group: e.group,
    finished_at: new Date(e.finishedAtMs).toISOString(),
  };
  if (e.startedAtMs > 0) record['started_at'] = new Date(e.startedAtMs).toISOString();
  const time = EventTime.fromMs(e.finishedAtMs);
  return encode(chunk === undefined ? [tag, time, record] : [tag, time, record, { chunk }]);
}

export class FluentProcessor implements Processor {
  readonly name = 'fluent';

  validate(config: Readonly<Record<string, string>>): string | null {
    const s = fluentSettings(config);
    return typeof s === 'string' ? s : null;
  }

  async process(execution: ExecutionRecord, config: Readonly<Record<string, string>>, signal: AbortSignal): Promise<ExecutionRecord> {
    const s = fluentSettings(config);
    if (typeof s === 'string') throw new Error(s);
    try {
      if (!s.requireAck) {
        await sendOverTcp(s.host, s.port, fluentMessage(execution, s.tag), signal);
      } else {
        const chunk = randomBytes(16).toString('base64');
        await sendOverTcp(s.host, s.port, fluentMessage(execution, s.tag, chunk), signal, { reply: (received) => isAck(received, chunk) });
      }
    } catch (err) {
      throw new Error(`fluent ${s.host}:${s.port}: ${(err as Error).message}`, { cause: err });
    }
    return forwardedOr(execution, config, 'Output sent to Fluent');
  }
}

/** Whether `received` is the whole {"ack": chunk}; throws for any other answer. */
function isAck(received: Buffer, chunk: string): boolean {
  const answer = decodeStringMap(received);
  if (answer === null) return false;
  if (answer.map['ack'] !== chunk) throw new Error(`the receiver answered ${JSON.stringify(answer.map)} instead of acking chunk ${chunk}`);
  return true;
}
