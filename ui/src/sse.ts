// Server-sent events over fetch (EventSource cannot send the API token).

import { authHeaders } from './api.js';

export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/** Read `path` as server-sent events until it ends or `signal` aborts. */
export async function readEvents(path: string, signal: AbortSignal, onEvent: (e: SseEvent) => void): Promise<void> {
  const res = await fetch(path, { headers: { ...authHeaders(), accept: 'text/event-stream' }, signal });
  if (!res.ok || !res.body) {
    const text = await res.text();
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
    } catch {
      // not JSON
    }
    throw new Error(`stream answered ${res.status}: ${message}`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = val;
        else if (field === 'data') data.push(val);
      }
      if (data.length > 0) onEvent({ event, data: data.join('\n') });
    }
  }
}
