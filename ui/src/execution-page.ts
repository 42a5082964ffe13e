// One execution and its output, live while it runs (the stream endpoint).
// Output is appended in batches once per frame, the DOM keeps at most
// `domCapChars` of it (older text is dropped from the page, and the page
// says so), and the view follows new output only while the reader is at
// the bottom: scrolling up keeps the place.

import { api, jobPath, type Execution } from './api.js';
import { duration, fill, h, jobHref, when } from './dom.js';
import { readEvents } from './sse.js';

const domCapChars = 2_000_000;
const pieceChars = 64 * 1024;

export function executionPage(app: HTMLElement, name: string, id: string): () => void {
  const abort = new AbortController();
  const info = h('dl', { class: 'def', id: 'execution-info' });
  const notices = h('div', { id: 'output-notices' });
  const status = h('p', { class: 'muted', id: 'output-status', 'aria-live': 'polite' }, 'Connecting…');
  const out = h('pre', { class: 'output', id: 'output', tabindex: '0', 'aria-label': 'Execution output' });
  const follow = h('button', { type: 'button', id: 'follow', hidden: true, onclick: () => { out.scrollTop = out.scrollHeight; follow.hidden = true; } }, 'Jump to the end');
  fill(app,
    h('p', {}, h('a', { href: jobHref(name) }, `← ${name}`)),
    h('h1', {}, `Execution ${id}`),
    info,
    h('h2', {}, 'Output'),
    notices, status, out, follow);

  let pending = '';
  let frame = 0;
  let shown = 0;
  let received = 0;
  let hiddenChars = 0;
  let hiddenNotice: HTMLElement | null = null;

  const atBottom = () => out.scrollHeight - out.scrollTop - out.clientHeight < 24;
  out.addEventListener('scroll', () => { follow.hidden = atBottom(); });

  function paint(): void {
    frame = 0;
    if (pending === '') return;
    const stick = atBottom();
    const text = pending;
    pending = '';
    for (let i = 0; i < text.length; i += pieceChars) out.append(document.createTextNode(text.slice(i, i + pieceChars)));
    shown += text.length;
    if (shown > domCapChars) {
      const before = out.scrollHeight;
      while (shown > domCapChars && out.firstChild) {
        const n = out.firstChild;
        const len = n.textContent?.length ?? 0;
        n.remove();
        shown -= len;
        hiddenChars += len;
      }
      if (!stick) out.scrollTop -= before - out.scrollHeight;
      hiddenNotice ??= notices.appendChild(h('div', { class: 'notice', id: 'dom-cap' }));
      fill(hiddenNotice, `The first ${hiddenChars.toLocaleString()} characters are not shown here (the page keeps the last ${domCapChars.toLocaleString()}).`);
    }
    if (stick) out.scrollTop = out.scrollHeight;
    else follow.hidden = false;
    fill(status, `${received.toLocaleString()} characters received${ended ? '' : ', live'}`);
  }

  let ended = false;
  function renderInfo(e: Execution): void {
    const rows: [string, string][] = [
      ['State', e.state], ['Trigger', e.trigger], ['Node', e.node_name || '—'], ['Attempt', String(e.attempt)],
      ['Scheduled', when(e.scheduled_at)], ['Started', when(e.started_at)], ['Finished', when(e.finished_at)],
      ['Duration', duration(e.started_at, e.finished_at)], ['Exit code', e.exit_code === null ? '—' : String(e.exit_code)], ['Error', e.error || '—'],
    ];
    fill(info, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', k === 'State' ? { class: `state-${v}`, id: 'execution-state' } : {}, v)]));
  }

  void (async () => {
    try {
      renderInfo((await api<Execution>('GET', `${jobPath(name)}/executions/${encodeURIComponent(id)}?output_size_limit=0`)).body);
      await readEvents(`${jobPath(name)}/executions/${encodeURIComponent(id)}/stream`, abort.signal, (ev) => {
        if (ev.event === 'output') {
          const text = JSON.parse(ev.data) as string;
          received += text.length;
          pending += text;
          frame ||= requestAnimationFrame(paint);
        } else if (ev.event === 'truncated') {
          const reason = (JSON.parse(ev.data) as { reason?: string }).reason ?? 'output was dropped';
          notices.append(h('div', { class: 'notice truncated' }, `Output truncated: ${reason}.`));
        } else if (ev.event === 'done') {
          ended = true;
          renderInfo(JSON.parse(ev.data) as Execution);
        } else if (ev.event === 'error') {
          notices.append(h('div', { class: 'error-box' }, (JSON.parse(ev.data) as { error?: { message?: string } }).error?.message ?? ev.data));
        }
      });
      ended = true;
      paint();
      fill(status, `${received.toLocaleString()} characters received; the execution has finished.`);
    } catch (err) {
      if (abort.signal.aborted) return;
      fill(status, '');
      notices.append(h('div', { class: 'error-box' }, err instanceof Error ? err.message : String(err)));
    }
  })();

  return () => {
    abort.abort();
    if (frame) cancelAnimationFrame(frame);
  };
}
