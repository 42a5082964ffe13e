// One job: its definition, the schedule's next fire times (from the server's
// own scheduler), actions, a chart of successes and failures per day,
// executions with paging, and skipped fires.

import { api, ApiFailure, jobPath, type Execution, type Job } from './api.js';
import { ago, duration, fill, h, jobHref, svg, toast, when } from './dom.js';

const pageSize = 20;
const chartDays = 14;

interface DayCount { date: string; succeeded: number; failed: number }

/** Stacked bars per day: successes (bottom) and failures, with a title per bar and a summary for screen readers. */
function dayChart(days: readonly DayCount[]): SVGElement {
  const w = 24;
  const height = 80;
  const most = Math.max(1, ...days.map((d) => d.succeeded + d.failed));
  const total = days.reduce((n, d) => ({ ok: n.ok + d.succeeded, bad: n.bad + d.failed }), { ok: 0, bad: 0 });
  const bars = days.map((d, i) => {
    const ok = (d.succeeded / most) * height;
    const bad = (d.failed / most) * height;
    return svg('g', {},
      svg('title', {}, `${d.date}: ${d.succeeded} succeeded, ${d.failed} failed`),
      svg('rect', { class: 'bar-ok', x: i * w + 2, y: height - ok, width: w - 4, height: ok }),
      svg('rect', { class: 'bar-failed', x: i * w + 2, y: height - ok - bad, width: w - 4, height: bad }));
  });
  return svg('svg', { viewBox: `0 0 ${days.length * w} ${height + 14}`, width: days.length * w, height: height + 14, role: 'img',
    'aria-label': `Last ${days.length} days: ${total.ok} succeeded, ${total.bad} failed` },
  svg('line', { x1: 0, y1: height + 0.5, x2: days.length * w, y2: height + 0.5, class: 'bar-axis' }),
  ...bars,
  ...days.map((d, i) => (i % 2 === 0 ? svg('text', { x: i * w + w / 2, y: height + 12, 'text-anchor': 'middle', class: 'bar-label' }, d.date.slice(8)) : svg('g', {}))));
}
const refreshMs = 3000;

export function jobPage(app: HTMLElement, name: string): () => void {
  let stopped = false;
  let timer: number | undefined;
  let start = 0;
  let job: Job | null = null;
  const title = h('h1', {}, name);
  const def = h('dl', { class: 'def', id: 'definition' });
  const preview = h('div', { id: 'preview' });
  const execBody = h('tbody');
  const execSummary = h('span', { class: 'muted' });
  const prev = h('button', { type: 'button', onclick: () => { start = Math.max(0, start - pageSize); void load(); } }, 'Newer');
  const next = h('button', { type: 'button', onclick: () => { start += pageSize; void load(); } }, 'Older');
  const skipped = h('div', { id: 'skipped' });
  const chart = h('div', { id: 'chart' });
  const toggle = h('button', { type: 'button', onclick: () => void act('toggle') }, 'Disable');
  const message = h('div', { role: 'alert' });

  fill(app,
    h('p', {}, h('a', { href: '#/jobs' }, '← Jobs')),
    title,
    message,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', onclick: () => void act('run') }, 'Run now'),
      toggle,
      h('a', { href: `${jobHref(name)}/edit`, class: 'button' }, 'Edit'),
      h('button', { type: 'button', class: 'danger', onclick: () => void act('delete') }, 'Delete')),
    h('div', { class: 'cols' },
      h('section', {}, h('h2', {}, 'Definition'), def),
      h('section', {}, h('h2', {}, 'Next fire times'), preview)),
    h('h2', {}, `Last ${chartDays} days`),
    chart,
    h('h2', {}, 'Executions'),
    h('table', { id: 'executions' },
      h('thead', {}, h('tr', {}, ...['ID', 'State', 'Trigger', 'Scheduled', 'Started', 'Node', 'Attempt', 'Duration', 'Exit code', ''].map((c) => h('th', { scope: 'col' }, c)))),
      execBody),
    h('div', { class: 'pager' }, prev, next, execSummary),
    h('h2', {}, 'Skipped fires'),
    skipped);

  async function act(action: 'run' | 'toggle' | 'delete'): Promise<void> {
    try {
      if (action === 'run') {
        await api('POST', `${jobPath(name)}/run`);
        toast(`Started ${name}`);
      } else if (action === 'toggle') {
        await api('POST', `${jobPath(name)}/toggle`);
        toast(`${job?.disabled ? 'Enabled' : 'Disabled'} ${name}`);
      } else {
        if (!window.confirm(`Delete job ${name}? Its executions are deleted too.`)) return;
        await api('DELETE', jobPath(name));
        toast(`Deleted ${name}`);
        location.hash = '#/jobs';
        return;
      }
    } catch (err) {
      fill(message, h('div', { class: 'error-box' }, err instanceof Error ? err.message : String(err)));
    }
    await load();
  }

  async function stop(id: string): Promise<void> {
    try {
      await api('POST', `${jobPath(name)}/executions/${encodeURIComponent(id)}/stop`);
      toast(`Stopping execution ${id}`);
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err));
    }
    await load();
  }

  let previewed = '';
  async function showPreview(j: Job): Promise<void> {
    const key = `${j.schedule}|${j.timezone}`;
    if (key === previewed) return;
    previewed = key;
    if (j.schedule === '') {
      fill(preview, h('p', { class: 'muted' }, `Runs after its parent ${String(j['parent_job'] ?? '')} succeeds.`));
      return;
    }
    try {
      const p = new URLSearchParams({ schedule: j.schedule, timezone: j.timezone, job: j.name });
      const res = await api<{ next: string[]; description?: string }>('GET', `/v1/schedule/preview?${p.toString()}`);
      const zone = j.timezone === '' ? 'UTC' : j.timezone;
      const fmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', weekday: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone: zone, timeZoneName: 'short' });
      fill(preview,
        h('p', { id: 'schedule-words' }, res.body.description ?? ''),
        h('p', { class: 'muted' }, `${j.schedule} in ${zone}${j.disabled ? ' (disabled: these would fire once enabled)' : ''}`),
        res.body.next.length === 0 ? h('p', {}, 'It never fires again.') : h('ol', {}, ...res.body.next.map((t) => h('li', {}, fmt.format(new Date(t))))));
    } catch (err) {
      fill(preview, h('div', { class: 'error-box' }, err instanceof Error ? err.message : String(err)));
    }
  }

  function renderDefinition(j: Job): void {
    const text = (v: unknown) => (v === null || v === undefined || v === '' ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));
    const rows: [string, unknown][] = [
      ['Display name', j.displayname], ['Schedule', j.schedule], ['Time zone', j.timezone || 'UTC'], ['Executor', j.executor],
      ['Enabled', j.disabled ? 'no' : 'yes'], ['Status', j.status || 'never run'], ['Next run', j.next ? `${when(j.next)} (${ago(j.next)})` : null],
      ['Last success', when(j.last_success)], ['Last error', when(j.last_error)], ['Successes / errors', `${j.success_count} / ${j.error_count}`],
      ['Retries', j['retries']], ['Concurrency', j['concurrency']], ['Parent job', j['parent_job']], ['Owner', j['owner']],
      ['Tags', j['tags']], ['Metadata', j['metadata']], ['Processors', j['processors']],
    ];
    fill(def, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, text(v))]),
      h('dt', {}, 'Executor config'), h('dd', {}, h('pre', { class: 'json' }, JSON.stringify(j.executor_config, null, 2))));
  }

  function execRow(e: Execution): HTMLTableRowElement {
    const running = e.state === 'running' || e.state === 'pending';
    return h('tr', { 'data-id': e.id },
      h('td', {}, h('a', { href: `${jobHref(name)}/executions/${encodeURIComponent(e.id)}` }, e.id)),
      h('td', { class: `state-${e.state}` }, e.state),
      h('td', {}, e.trigger),
      h('td', {}, when(e.scheduled_at)),
      h('td', {}, when(e.started_at)),
      h('td', {}, e.node_name || '—'),
      h('td', {}, e.attempt),
      h('td', {}, duration(e.started_at, e.finished_at)),
      h('td', {}, e.exit_code ?? '—'),
      h('td', {}, running ? h('button', { type: 'button', class: 'danger', 'aria-label': `Stop execution ${e.id}`, onclick: () => void stop(e.id) }, 'Stop') : ''));
  }

  let lastRows = '';
  let lastChart = '';
  async function load(): Promise<void> {
    clearTimeout(timer);
    try {
      const j = (await api<Job>('GET', jobPath(name))).body;
      if (stopped) return;
      job = j;
      fill(title, j.displayname !== '' ? `${j.displayname} (${j.name})` : j.name);
      fill(toggle, j.disabled ? 'Enable' : 'Disable');
      renderDefinition(j);
      void showPreview(j);
      const ex = await api<Execution[]>('GET', `${jobPath(name)}/executions?_start=${start}&_end=${start + pageSize}&output_size_limit=0`);
      if (stopped) return;
      const total = ex.total ?? ex.body.length;
      // Rebuilt only when something changed, so a focused Stop button stays put.
      const key = JSON.stringify(ex.body);
      if (key !== lastRows) {
        lastRows = key;
        fill(execBody, ...ex.body.map(execRow));
      }
      fill(execSummary, total === 0 ? 'No executions yet.' : `${start + 1}–${start + ex.body.length} of ${total}`);
      prev.disabled = start === 0;
      next.disabled = start + pageSize >= total;
      const st = await api<{ executions: DayCount[] }>('GET', `/v1/stats?days=${chartDays}&job=${encodeURIComponent(name)}`);
      if (stopped) return;
      const chartKey = JSON.stringify(st.body.executions);
      if (chartKey !== lastChart) {
        lastChart = chartKey;
        fill(chart, dayChart(st.body.executions));
      }
      const sk = await api<{ scheduled_at?: string; reason?: string; count?: number }[]>('GET', `${jobPath(name)}/skipped`);
      if (stopped) return;
      fill(skipped, sk.body.length === 0 ? h('p', { class: 'muted' }, 'None.') : h('pre', { class: 'json' }, sk.body.slice(0, 20).map((s) => JSON.stringify(s)).join('\n')));
    } catch (err) {
      if (stopped) return;
      if (err instanceof ApiFailure && err.status === 404) {
        fill(app, h('h1', {}, name), h('div', { class: 'error-box' }, err.message), h('a', { href: '#/jobs' }, 'Back to jobs'));
        return;
      }
      fill(message, h('div', { class: 'error-box' }, err instanceof Error ? err.message : String(err)));
    }
    if (!stopped) timer = window.setTimeout(() => void load(), refreshMs);
  }

  void load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
