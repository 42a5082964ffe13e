// RFC 5424 syslog messages, and the two TCP framings of RFC 6587.

export const facilities: Readonly<Record<string, number>> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

export const severities = { emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 } as const;

export interface SyslogMessage {
  readonly facility: number;
  readonly severity: number;
  readonly timestampMs: number;
  readonly hostname: string;
  readonly appName: string;
  readonly msgId: string;
  /** One SD-ELEMENT: its SD-ID and its parameters, in order. */
  readonly data: { readonly id: string; readonly params: readonly (readonly [string, string])[] };
  readonly message: string;
}

/** `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG` (PROCID is "-"; MSG without BOM). */
export function formatRfc5424(m: SyslogMessage): string {
  const pri = m.facility * 8 + m.severity;
  const params = m.data.params.map(([k, v]) => ` ${sdName(k)}="${v.replace(/["\\\]]/g, (c) => `\\${c}`)}"`).join('');
  return `<${pri}>1 ${new Date(m.timestampMs).toISOString()} ${header(m.hostname, 255)} ${header(m.appName, 48)} - ${header(m.msgId, 32)} `
    + `[${sdName(m.data.id)}${params}] ${m.message}`;
}

/** A header field: printable US-ASCII without spaces, at most `max` long, "-" when empty. */
function header(value: string, max: number): string {
  const v = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return v === '' ? '-' : v;
}

/** An SD-NAME: printable US-ASCII except = ] " and space, at most 32 long. */
function sdName(value: string): string {
  return value.replace(/[^\x21-\x7e]|[=\]"]/g, '_').slice(0, 32);
}

export type Framing = 'octet-counting' | 'newline';

/** RFC 6587 framing for a stream transport: "LEN SP MSG" or "MSG LF". */
export function frame(message: Buffer, framing: Framing): Buffer {
  return framing === 'octet-counting'
    ? Buffer.concat([Buffer.from(`${message.length} `), message])
    : Buffer.concat([message, Buffer.from('\n')]);
}

/** Split text into lines of at most `maxBytes` UTF-8 bytes each, never inside a character. */
export function outputLines(output: Buffer, maxBytes: number): string[] {
  const text = output.toString('utf8');
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const out: string[] = [];
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const bytes = Buffer.from(line, 'utf8');
    if (bytes.length <= maxBytes) {
      out.push(line);
      continue;
    }
    let start = 0;
    while (start < bytes.length) {
      let end = Math.min(start + maxBytes, bytes.length);
      // Back off to the start of a UTF-8 character (continuation bytes are 10xxxxxx).
      while (end < bytes.length && end > start && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
      out.push(bytes.subarray(start, end).toString('utf8'));
      start = end;
    }
  }
  return out;
}
