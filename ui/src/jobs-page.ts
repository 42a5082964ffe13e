// The jobs list: search, filters, sort and paging done by the server
// (q, status, disabled, _sort, _order, _start, _end, X-Total-Count), bulk
// actions, and a refresh every few seconds that updates rows in place, so
// what the user types, selects or checks is never wiped.

import { api, ApiFailure, jobPath, type Job } from './api.js';
import { ago, fill, h, jobHref, toast, when } from './dom.js';

const pageSize = 50;
const refreshMs = 3000;

interface Column {
  readonly label: string;
  readonly sort?: string;
}

const columns: Column[] = [
  { label: 'Name', sort: 'name' },
  { label: 'Schedule', sort: 'schedule' },
  { label: 'Status', sort: 'status' },
  { label: 'Last run', sort: 'last_success' },
  { label: 'Next run', sort: 'next' },
  { label: 'Executor' },
  { label: 'Enabled' },
];

function lastRun(j: Job): string | null {
  const s = j.last_success ?? '';
  const e = j.last_error ?? '';
  return s === '' && e === '' ? null : s > e ? s : e;
}

export function jobsPage(app: HTMLElement): () => void {
  let sort = 'name';
  let order: 'ASC' | 'DESC' = 'ASC';
  let start = 0;
  let total = 0;
  const selected = new Set<string>();
  const rows = new Map<string, HTMLTableRowElement>();
  let timer: number | undefined;
  let stopped = false;

  const search = h('input', { type: 'search', id: 'job-search', placeholder: 'Search by name', 'aria-label': 'Search jobs by name' });
  const status = h('select', { id: 'job-status', 'aria-label': 'Filter by status' },
    h('option', { value: '' }, 'Any status'), h('option', { value: 'success' }, 'Success'), h('option', { value: 'failed' }, 'Failed'),
    h('option', { value: 'partially_failed' }, 'Partially failed'), h('option', { value: 'untriggered' }, 'Never run'));
  const enabled = h('select', { id: 'job-enabled', 'aria-label': 'Filter by enabled' },
    h('option', { value: '' }, 'Enabled or not'), h('option', { value: 'false' }, 'Enabled'), h('option', { value: 'true' }, 'Disabled'));
  const metadata = h('input', { type: 'search', id: 'job-metadata', placeholder: 'metadata key=value', 'aria-label': 'Filter by metadata key=value' });
  const tbody = h('tbody');
  const summary = h('span', { class: 'muted', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', onclick: () => { start = Math.max(0, start - pageSize); void load(); } }, 'Previous');
  const next = h('button', { type: 'button', onclick: () => { start += pageSize; void load(); } }, 'Next');
  const all = h('input', { type: 'checkbox', 'aria-label': 'Select all jobs on this page' });
  all.addEventListener('change', () => {
    for (const [name, row] of rows) {
      const box = row.querySelector('input[type=checkbox]') as HTMLInputElement;
      box.checked = all.checked;
      if (all.checked) selected.add(name);
      else selected.delete(name);
    }
    bulkState();
  });
  const bulkButtons = [
    h('button', { type: 'button', onclick: () => void bulk('run') }, 'Run selected'),
    h('button', { type: 'button', onclick: () => void bulk('toggle') }, 'Enable/disable selected'),
    h('button', { type: 'button', class: 'danger', onclick: () => void bulk('delete') }, 'Delete selected'),
  ];
  const bulkState = () => bulkButtons.forEach((b) => { b.disabled = selected.size === 0; });
  bulkState();

  const headRow = h('tr', {}, h('th', {}, all));
  const sortButtons = new Map<string, HTMLButtonElement>();
  for (const c of columns) {
    if (!c.sort) {
      headRow.append(h('th', { scope: 'col' }, c.label));
      continue;
    }
    const key = c.sort;
    const b = h('button', { type: 'button', onclick: () => {
      if (sort === key) order = order === 'ASC' ? 'DESC' : 'ASC';
      else { sort = key; order = 'ASC'; }
      start = 0;
      void load();
    } }, c.label);
    sortButtons.set(key, b);
    headRow.append(h('th', { scope: 'col', 'aria-sort': 'none' }, b));
  }

  let typing: number | undefined;
  const changed = () => {
    clearTimeout(typing);
    typing = window.setTimeout(() => { start = 0; void load(); }, 200);
  };
  search.addEventListener('input', changed);
  metadata.addEventListener('input', changed);
  status.addEventListener('change', changed);
  enabled.addEventListener('change', changed);

  fill(app,
    h('h1', {}, 'Jobs'),
    h('div', { class: 'toolbar' }, search, status, enabled, metadata, h('a', { href: '#/new' }, 'New job')),
    h('div', { class: 'toolbar' }, ...bulkButtons),
    h('table', { id: 'jobs' }, h('thead', {}, headRow), tbody),
    h('div', { class: 'pager' }, prev, next, summary));

  function query(): string {
    const p = new URLSearchParams({ _sort: sort, _order: order, _start: String(start), _end: String(start + pageSize) });
    if (search.value.trim() !== '') p.set('q', search.value.trim());
    if (status.value !== '') p.set('status', status.value);
    if (enabled.value !== '') p.set('disabled', enabled.value);
    const m = metadata.value.trim();
    if (m.includes('=')) p.append('metadata', m);
    return p.toString();
  }

  function row(j: Job): HTMLTableRowElement {
    const box = h('input', { type: 'checkbox', 'aria-label': `Select ${j.name}` });
    box.checked = selected.has(j.name);
    box.addEventListener('change', () => {
      if (box.checked) selected.add(j.name);
      else selected.delete(j.name);
      bulkState();
    });
    const tr = h('tr', { 'data-name': j.name }, h('td', {}, box));
    for (let i = 0; i < columns.length; i++) tr.append(h('td'));
    update(tr, j);
    return tr;
  }

  /** Change only the cells whose text changed (a selection inside the others stays). */
  function update(tr: HTMLTableRowElement, j: Job): void {
    const last = lastRun(j);
    const cells: (string | Node)[] = [
      h('a', { href: jobHref(j.name) }, j.displayname !== '' ? `${j.displayname} (${j.name})` : j.name),
      `${j.schedule === '' ? '(after parent)' : j.schedule}${j.timezone !== '' ? ` · ${j.timezone}` : ''}`,
      j.status === '' ? 'never run' : j.status,
      last === null ? '—' : `${when(last)} (${ago(last)})`,
      j.next === null ? '—' : `${when(j.next)} (${ago(j.next)})`,
      j.executor,
      j.disabled ? 'no' : 'yes',
    ];
    cells.forEach((c, i) => {
      const td = tr.children[i + 1] as HTMLTableCellElement;
      const text = typeof c === 'string' ? c : (c.textContent ?? '');
      if (td.dataset['v'] === text) return;
      td.dataset['v'] = text;
      fill(td, c);
      if (i === 2) td.className = `status-${j.status}`;
    });
  }

  async function load(): Promise<void> {
    clearTimeout(timer);
    try {
      const res = await api<Job[]>('GET', `/v1/jobs?${query()}`);
      if (stopped) return;
      total = res.total ?? res.body.length;
      const seen = new Set<string>();
      let before: ChildNode | null = tbody.firstChild;
      for (const j of res.body) {
        seen.add(j.name);
        let tr = rows.get(j.name);
        if (tr) update(tr, j);
        else {
          tr = row(j);
          rows.set(j.name, tr);
        }
        if (tr !== before) tbody.insertBefore(tr, before);
        before = tr.nextSibling;
      }
      for (const [name, tr] of rows) {
        if (!seen.has(name)) {
          tr.remove();
          rows.delete(name);
        }
      }
      if (res.body.length === 0) fill(summary, total === 0 ? 'No jobs match.' : 'No jobs on this page.');
      else fill(summary, `${start + 1}–${start + res.body.length} of ${total}`);
      prev.disabled = start === 0;
      next.disabled = start + pageSize >= total;
      for (const [key, b] of sortButtons) b.parentElement?.setAttribute('aria-sort', key === sort ? (order === 'ASC' ? 'ascending' : 'descending') : 'none');
    } catch (err) {
      if (!stopped) fill(summary, err instanceof Error ? err.message : String(err));
    }
    if (!stopped) timer = window.setTimeout(() => void load(), refreshMs);
  }

  async function bulk(action: 'run' | 'toggle' | 'delete'): Promise<void> {
    const names = [...selected];
    if (names.length === 0) return;
    if (action === 'delete' && !window.confirm(`Delete ${names.length} job${names.length === 1 ? '' : 's'}: ${names.join(', ')}?`)) return;
    const failures: string[] = [];
    for (const name of names) {
      try {
        if (action === 'run') await api('POST', `${jobPath(name)}/run`);
        else if (action === 'toggle') await api('POST', `${jobPath(name)}/toggle`);
        else {
          await api('DELETE', jobPath(name));
          selected.delete(name);
        }
      } catch (err) {
        failures.push(`${name}: ${err instanceof ApiFailure ? err.message : String(err)}`);
      }
    }
    toast(failures.length > 0 ? `Failed: ${failures.join('; ')}` : `${action === 'run' ? 'Started' : action === 'toggle' ? 'Toggled' : 'Deleted'} ${names.length} job${names.length === 1 ? '' : 's'}`);
    bulkState();
    await load();
  }

  void load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(typing);
  };
}
