// Read a server-sent-events answer to its end, for tests of the output stream.

import { request } from 'undici';

export interface SseEvent {
  readonly event: string;
  readonly data: string;
  /** When it arrived, in ms since the request. */
  readonly at: number;
}

export async function readSse(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; events: SseEvent[] }> {
  const started = Date.now();
  const res = await request(url, { headers: { accept: 'text/event-stream', ...headers } });
  const events: SseEvent[] = [];
  let buffer = '';
  for await (const chunk of res.body) {
    buffer += (chunk as Buffer).toString('utf8');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = [...block.matchAll(/^data: (.*)$/gm)].map((m) => m[1]).join('\n');
      if (data !== '') events.push({ event: /^event: (.*)$/m.exec(block)?.[1] ?? 'message', data, at: Date.now() - started });
    }
  }
  return { status: res.statusCode, type: String(res.headers['content-type']), events };
}
