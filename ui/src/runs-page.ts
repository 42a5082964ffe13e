// Workflow runs: the list (#/runs, filters by job and state, paging) and one
// run (#/runs/ID) drawn as a graph of its tasks, coloured by state, in
// columns by depth from the root, with stop and restart.

import { api } from './api.js';
import { duration, fill, h, jobHref, svg, toast, when } from './dom.js';

const pageSize = 25;
const refreshMs = 2000;

interface Task {
  job: string; state: string; execution_id: string | null; attempt: number; started_at: string | null; finished_at: string | null;
  reason: string; exit_code: number | null; upstream?: string[];
}
interface Run { id: string; root_job: string; state: string; parameters: Record<string, string>; created_at: string; finished_at: string | null; reason: string; tasks: Task[] }

export const runHref = (id: string) => `#/runs/${encodeURIComponent(id)}`;

export function runsPage(app: HTMLElement): () => void {
  let stopped = false;
  let timer: number | undefined;
  let start = 0;
  const job = h('input', { type: 'search', id: 'runs-job', placeholder: 'job name' });
  const state = h('select', { id: 'runs-state' }, ...['', 'running', 'succeeded', 'failed', 'stopped'].map((s) => h('option', { value: s }, s === '' ? 'any state' : s)));
  const body = h('tbody');
  const summary = h('span', { class: 'muted' });
  const message = h('div', { role: 'alert' });
  const prev = h('button', { type: 'button', onclick: () => { start = Math.max(0, start - pageSize); void load(); } }, 'Newer');
  const next = h('button', { type: 'button', onclick: () => { start += pageSize; void load(); } }, 'Older');
  job.addEventListener('input', () => { start = 0; void load(); });
  state.addEventListener('change', () => { start = 0; void load(); });
  fill(app, h('h1', {}, 'Runs'), message,
    h('div', { class: 'filters' }, h('label', { for: 'runs-job' }, 'Job '), job, ' ', h('label', { for: 'runs-state' }, 'State '), state),
    h('table', { id: 'runs' }, h('thead', {}, h('tr', {}, ...['Run', 'Root job', 'State', 'Tasks', 'Started', 'Duration'].map((c) => h('th', { scope: 'col' }, c)))), body),
    h('div', { class: 'pager' }, prev, next, summary));

  async function load(): Promise<void> {
    clearTimeout(timer);
    try {
      const q = new URLSearchParams({ _start: String(start), _end: String(start + pageSize) });
      if (job.value.trim() !== '') q.set('job', job.value.trim());
      if (state.value !== '') q.set('state', state.value);
      const res = await api<Run[]>('GET', `/v1/runs?${q.toString()}`);
      if (stopped) return;
      const total = res.total ?? res.body.length;
      fill(message);
      fill(body, ...(res.body.length === 0 ? [h('tr', {}, h('td', { colspan: '6', class: 'muted' }, 'No runs. A run starts when a job with downstream jobs runs.'))] : res.body.map((r) => h('tr', { 'data-id': r.id },
        h('td', {}, h('a', { href: runHref(r.id) }, r.id.slice(0, 8))),
        h('td', {}, h('a', { href: jobHref(r.root_job) }, r.root_job)),
        h('td', { class: `state-${r.state}` }, r.state),
        h('td', {}, `${r.tasks.filter((t) => t.state === 'succeeded').length} / ${r.tasks.length} succeeded`),
        h('td', {}, when(r.created_at)),
        h('td', {}, duration(r.created_at, r.finished_at))))));
      fill(summary, total === 0 ? '' : `${start + 1}–${start + res.body.length} of ${total}`);
      prev.disabled = start === 0;
      next.disabled = start + pageSize >= total;
    } catch (err) {
      if (!stopped) fill(message, h('div', { class: 'error-box' }, err instanceof Error ? err.message : String(err)));
    }
    if (!stopped) timer = window.setTimeout(() => void load(), refreshMs);
  }
  void load();
  return () => { stopped = true; clearTimeout(timer); };
}

/** Columns by the longest path from the root; each task a box linked to its execution, edges from its upstreams. */
function graph(run: Run): SVGElement {
  const byJob = new Map(run.tasks.map((t) => [t.job, t]));
  const depth = new Map<string, number>();
  const depthOf = (job: string, seen: Set<string> = new Set()): number => {
    const known = depth.get(job);
    if (known !== undefined) return known;
    if (seen.has(job)) return 0;
    seen.add(job);
    const ups = (byJob.get(job)?.upstream ?? []).filter((u) => byJob.has(u));
    const d = ups.length === 0 ? 0 : 1 + Math.max(...ups.map((u) => depthOf(u, seen)));
    depth.set(job, d);
    return d;
  };
  const columns: string[][] = [];
  for (const t of run.tasks) (columns[depthOf(t.job)] ??= []).push(t.job);
  const boxW = 150;
  const boxH = 40;
  const gapX = 60;
  const gapY = 16;
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((col, c) => col.forEach((job, r) => pos.set(job, { x: 10 + c * (boxW + gapX), y: 10 + r * (boxH + gapY) })));
  const width = 20 + columns.length * (boxW + gapX) - gapX;
  const height = 20 + Math.max(1, ...columns.map((c) => c.length)) * (boxH + gapY) - gapY;
  const edges: SVGElement[] = [];
  for (const t of run.tasks) {
    const to = pos.get(t.job);
    for (const u of t.upstream ?? []) {
      const from = pos.get(u);
      if (!from || !to) continue;
      edges.push(svg('path', { class: 'edge', d: `M${from.x + boxW},${from.y + boxH / 2} C${from.x + boxW + gapX / 2},${from.y + boxH / 2} ${to.x - gapX / 2},${to.y + boxH / 2} ${to.x},${to.y + boxH / 2}` }));
    }
  }
  const boxes = run.tasks.map((t) => {
    const p = pos.get(t.job) ?? { x: 0, y: 0 };
    const label = t.job.length > 20 ? `${t.job.slice(0, 19)}…` : t.job;
    const box = svg('g', { class: `task task-${t.state}`, 'data-job': t.job },
      svg('title', {}, `${t.job}: ${t.state}${t.reason ? ` (${t.reason})` : ''}`),
      svg('rect', { x: p.x, y: p.y, width: boxW, height: boxH, rx: 6 }),
      svg('text', { x: p.x + 8, y: p.y + 16 }, label),
      svg('text', { x: p.x + 8, y: p.y + 32, class: 'task-state' }, t.state));
    if (!t.execution_id) return box;
    return svg('a', { href: `${jobHref(t.job)}/executions/${encodeURIComponent(t.execution_id)}`, 'aria-label': `${t.job}: ${t.state}` }, box);
  });
  return svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': `Run ${run.id}: ${run.tasks.map((t) => `${t.job} ${t.state}`).join(', ')}` }, ...edges, ...boxes);
}

export function runPage(app: HTMLElement, id: string): () => void {
  let stopped = false;
  let timer: number | undefined;
  const title = h('h1', {}, `Run ${id.slice(0, 8)}`);
  const info = h('p', { id: 'run-info' });
  const picture = h('div', { id: 'run-graph' });
  const tasks = h('tbody');
  const message = h('div', { role: 'alert' });
  const stopButton = h('button', { type: 'button', class: 'danger', onclick: () => void act('stop') }, 'Stop run');
  const restartButton = h('button', { type: 'button', onclick: () => void act('restart') }, 'Restart run');
  fill(app, h('p', {}, h('a', { href: '#/runs' }, '← Runs')), title, message, info,
    h('div', { class: 'actions' }, stopButton, restartButton), picture,
    h('h2', {}, 'Tasks'),
    h('table', { id: 'run-tasks' }, h('thead', {}, h('tr', {}, ...['Task', 'State', 'Attempt', 'Started', 'Duration', 'Exit code', 'Reason'].map((c) => h('th', { scope: 'col' }, c)))), tasks));

  async function act(what: 'stop' | 'restart'): Promise<void> {
    try {
      await api('POST', `/v1/runs/${encodeURIComponent(id)}/${what}`);
      toast(what === 'stop' ? 'Stopping the run' : 'Restarting the run');
    } catch (err) {
      fill(message, h('div', { class: 'error-box' }, err instanceof Error ? err.message : String(err)));
    }
    await load();
  }

  let last = '';
  async function load(): Promise<void> {
    clearTimeout(timer);
    try {
      const run = (await api<Run>('GET', `/v1/runs/${encodeURIComponent(id)}`)).body;
      if (stopped) return;
      const key = JSON.stringify(run);
      if (key !== last) {
        last = key;
        fill(info, 'Root ', h('a', { href: jobHref(run.root_job) }, run.root_job), ' · ', h('span', { id: 'run-state', class: `state-${run.state}` }, run.state),
          ` · started ${when(run.created_at)} · ${duration(run.created_at, run.finished_at)}`,
          Object.keys(run.parameters).length > 0 ? ` · parameters ${JSON.stringify(run.parameters)}` : '', run.reason ? ` · ${run.reason}` : '');
        stopButton.disabled = run.state !== 'running';
        restartButton.disabled = run.state === 'running' || run.state === 'succeeded';
        fill(picture, graph(run));
        fill(tasks, ...run.tasks.map((t) => h('tr', { 'data-job': t.job },
          h('td', {}, t.execution_id ? h('a', { href: `${jobHref(t.job)}/executions/${encodeURIComponent(t.execution_id)}` }, t.job) : t.job),
          h('td', { class: `state-${t.state}` }, t.state), h('td', {}, t.attempt || '—'), h('td', {}, when(t.started_at)),
          h('td', {}, duration(t.started_at, t.finished_at)), h('td', {}, t.exit_code ?? '—'), h('td', {}, t.reason || ''))));
      }
    } catch (err) {
      if (!stopped) fill(message, h('div', { class: 'error-box' }, err instanceof Error ? err.message : String(err)));
    }
    if (!stopped) timer = window.setTimeout(() => void load(), refreshMs);
  }
  void load();
  return () => { stopped = true; clearTimeout(timer); };
}
