// Create or edit a job: a form for the common fields, the executor chosen
// from what the cluster offers (/v1/plugins), JSON for executor_config and
// for every other field. Saving PUTs the whole record; the server's
// validation error is shown next to the field it names.

import { api, ApiFailure, jobPath, type Job } from './api.js';
import { fill, h, jobHref, toast } from './dom.js';

const readOnly = ['id', 'success_count', 'error_count', 'last_success', 'last_error', 'dependent_jobs', 'status', 'next'];
const formFields = ['name', 'displayname', 'schedule', 'timezone', 'executor', 'executor_config', 'disabled', 'retries', 'concurrency', 'parent_job', 'owner', 'owner_email'];

interface Field {
  readonly name: string;
  readonly control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  readonly error: HTMLElement;
}

export function editPage(app: HTMLElement, name: string | null): () => void {
  let stopped = false;
  const fields = new Map<string, Field>();
  const form = h('form', { class: 'edit', id: 'job-form', novalidate: true });
  const formError = h('div', { role: 'alert', id: 'form-error' });

  function add(field: string, label: string, control: Field['control'], hint?: string): void {
    control.id = `f-${field}`;
    control.name = field;
    const error = h('div', { class: 'field-error', id: `f-${field}-error`, role: 'alert' });
    control.setAttribute('aria-describedby', `f-${field}-error`);
    form.append(h('label', { for: control.id }, label), h('div', { class: 'field' }, control, hint ? h('div', { class: 'muted' }, hint) : null, error));
    fields.set(field, { name: field, control, error });
  }

  const executor = h('select');
  const schedulePreview = h('div', { class: 'muted', id: 'schedule-preview', 'aria-live': 'polite' });
  add('name', 'Name', h('input', { required: true, autocomplete: 'off' }));
  add('displayname', 'Display name', h('input', { autocomplete: 'off' }));
  add('schedule', 'Schedule', h('input', { autocomplete: 'off', placeholder: '@every 1m, 0 30 * * * *, @manually' }), 'Cron with seconds (or 5 fields), @every, @at, @daily…; empty for a child job');
  form.lastElementChild?.append(schedulePreview);
  add('timezone', 'Time zone', h('input', { autocomplete: 'off', placeholder: 'UTC' }), 'An IANA zone such as Europe/Berlin');
  add('executor', 'Executor', executor);
  add('executor_config', 'Executor config (JSON)', h('textarea', { spellcheck: 'false' }), 'e.g. {"command": "echo hello"}');
  add('disabled', 'Disabled', h('input', { type: 'checkbox' }));
  add('retries', 'Retries', h('input', { type: 'number', min: '0', step: '1' }));
  add('concurrency', 'Concurrency', h('select', {}, h('option', { value: 'allow' }, 'allow'), h('option', { value: 'forbid' }, 'forbid')));
  add('parent_job', 'Parent job', h('input', { autocomplete: 'off' }));
  add('owner', 'Owner', h('input', { autocomplete: 'off' }));
  add('owner_email', 'Owner email', h('input', { type: 'email', autocomplete: 'off' }));
  add('other', 'Other fields (JSON)', h('textarea', { spellcheck: 'false' }), 'tags, metadata, processors, catch_up, starts_at, … as in the job JSON');
  const save = h('button', { type: 'submit', class: 'primary' }, name === null ? 'Create' : 'Save');
  form.append(h('span'), h('div', { class: 'actions' }, save, h('a', { href: name === null ? '#/jobs' : jobHref(name) }, 'Cancel')));

  fill(app, h('p', {}, h('a', { href: name === null ? '#/jobs' : jobHref(name) }, name === null ? '← Jobs' : `← ${name}`)),
    h('h1', {}, name === null ? 'New job' : `Edit ${name}`), formError, form);

  const control = (f: string) => fields.get(f)?.control as HTMLInputElement;

  let previewTimer: number | undefined;
  const previewSchedule = () => {
    clearTimeout(previewTimer);
    previewTimer = window.setTimeout(async () => {
      const schedule = control('schedule').value.trim();
      if (schedule === '') return fill(schedulePreview);
      try {
        const p = new URLSearchParams({ schedule, timezone: control('timezone').value.trim(), count: '3' });
        const res = await api<{ next: string[] }>('GET', `/v1/schedule/preview?${p.toString()}`);
        fill(schedulePreview, res.body.next.length === 0 ? 'Never fires.' : `Next: ${res.body.next.map((t) => new Date(t).toLocaleString()).join(', ')}`);
      } catch (err) {
        fill(schedulePreview, err instanceof Error ? err.message : String(err));
      }
    }, 300);
  };
  control('schedule').addEventListener('input', previewSchedule);
  control('timezone').addEventListener('input', previewSchedule);

  let base: Record<string, unknown> = { executor: 'shell', executor_config: {}, concurrency: 'allow', retries: 0 };

  function show(job: Record<string, unknown>): void {
    for (const f of formFields) {
      const c = control(f);
      const v = job[f];
      if (f === 'executor_config') c.value = JSON.stringify(v ?? {}, null, 2);
      else if (f === 'disabled') c.checked = v === true;
      else if (f === 'executor') {
        const value = typeof v === 'string' ? v : 'shell';
        if (![...executor.options].some((o) => o.value === value)) executor.append(h('option', { value }, value));
        executor.value = value;
      } else c.value = v === undefined || v === null ? '' : String(v);
    }
    const rest: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(job)) if (!formFields.includes(k) && !readOnly.includes(k)) rest[k] = v;
    control('other').value = JSON.stringify(rest, null, 2);
    if (name !== null) control('name').readOnly = true;
    previewSchedule();
  }

  function clearErrors(): void {
    fill(formError);
    for (const f of fields.values()) {
      fill(f.error);
      f.control.removeAttribute('aria-invalid');
    }
  }

  function fieldError(field: string, message: string): void {
    const top = field.split(/[.[]/)[0] ?? field;
    const f = fields.get(top) ?? fields.get('other');
    if (!f) return;
    fill(f.error, message);
    f.control.setAttribute('aria-invalid', 'true');
    f.control.focus();
  }

  function record(): Record<string, unknown> | null {
    const out: Record<string, unknown> = {};
    let other: unknown;
    try {
      other = JSON.parse(control('other').value.trim() === '' ? '{}' : control('other').value);
    } catch (err) {
      fieldError('other', `not valid JSON: ${(err as Error).message}`);
      return null;
    }
    if (typeof other !== 'object' || other === null || Array.isArray(other)) {
      fieldError('other', 'must be a JSON object');
      return null;
    }
    Object.assign(out, other);
    for (const f of formFields) {
      const c = control(f);
      if (f === 'executor_config') {
        try {
          out[f] = JSON.parse(c.value.trim() === '' ? '{}' : c.value);
        } catch (err) {
          fieldError(f, `not valid JSON: ${(err as Error).message}`);
          return null;
        }
      } else if (f === 'disabled') out[f] = c.checked;
      else if (f === 'retries') out[f] = c.value === '' ? 0 : Number(c.value);
      else out[f] = c.value.trim();
    }
    return { ...Object.fromEntries(Object.entries(base).filter(([k]) => !readOnly.includes(k) && !formFields.includes(k) && k in out)), ...out };
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearErrors();
    const job = record();
    if (!job) return;
    const target = String(job['name'] ?? '');
    if (target === '') return fieldError('name', 'a job needs a name');
    save.disabled = true;
    void (async () => {
      try {
        if (name === null) {
          // A new job must not replace one that exists.
          const found = await api<Job[]>('GET', `/v1/jobs?${new URLSearchParams({ q: target, _end: '1000' }).toString()}`);
          if (found.body.some((j) => j.name === target)) {
            fieldError('name', `a job named ${target} exists already`);
            return;
          }
        }
        await api('PUT', jobPath(target), job);
        toast(`Saved ${target}`);
        location.hash = jobHref(target);
      } catch (err) {
        if (err instanceof ApiFailure && err.field) fieldError(err.field, err.message);
        else fill(formError, h('div', { class: 'error-box' }, err instanceof Error ? err.message : String(err)));
      } finally {
        save.disabled = false;
      }
    })();
  });

  void (async () => {
    try {
      const plugins = (await api<{ executors?: { name: string }[] }>('GET', '/v1/plugins')).body;
      if (stopped) return;
      for (const e of plugins.executors ?? []) executor.append(h('option', { value: e.name }, e.name));
      if (name !== null) base = (await api<Job>('GET', jobPath(name))).body;
      if (stopped) return;
      show(base);
    } catch (err) {
      fill(formError, h('div', { class: 'error-box' }, err instanceof Error ? err.message : String(err)));
    }
  })();
  return () => {
    stopped = true;
    clearTimeout(previewTimer);
  };
}
