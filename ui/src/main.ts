// The UI's router: #/jobs, #/jobs/NAME, #/jobs/NAME/edit, #/new,
// #/jobs/NAME/executions/ID, #/runs, #/runs/ID, #/cluster. Each page returns its cleanup.

import { api } from './api.js';
import { clusterPage } from './cluster-page.js';
import { fill, h } from './dom.js';
import { editPage } from './edit-page.js';
import { executionPage } from './execution-page.js';
import { jobPage } from './job-page.js';
import { jobsPage } from './jobs-page.js';
import { runPage, runsPage } from './runs-page.js';

let cleanup: (() => void) | null = null;

function route(): void {
  cleanup?.();
  cleanup = null;
  const app = document.getElementById('app');
  if (!app) return;
  const parts = location.hash.replace(/^#\/?/, '').split('/').map((p) => decodeURIComponent(p));
  const [a = '', b, c, d] = parts;
  if (a === '' || (a === 'jobs' && b === undefined)) cleanup = jobsPage(app);
  else if (a === 'new') cleanup = editPage(app, null);
  else if (a === 'cluster') cleanup = clusterPage(app);
  else if (a === 'runs' && b === undefined) cleanup = runsPage(app);
  else if (a === 'runs' && b !== undefined) cleanup = runPage(app, b);
  else if (a === 'jobs' && b !== undefined && c === undefined) cleanup = jobPage(app, b);
  else if (a === 'jobs' && b !== undefined && c === 'edit') cleanup = editPage(app, b);
  else if (a === 'jobs' && b !== undefined && c === 'executions' && d !== undefined) cleanup = executionPage(app, b, d);
  else fill(app, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/jobs' }, 'Go to the jobs')));
  document.title = `Clocktower · ${a === '' ? 'jobs' : parts.filter((p) => p !== '').join(' / ')}`;
  for (const link of document.querySelectorAll('.top nav a')) {
    if ((link as HTMLAnchorElement).hash === `#/${a === '' ? 'jobs' : a}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

window.addEventListener('hashchange', route);
route();
void api<{ agent?: { name?: string; version?: string } }>('GET', '/v1').then((res) => {
  const node = document.getElementById('node');
  if (node) node.textContent = `${res.body.agent?.name ?? ''} · ${res.body.agent?.version ?? ''}`;
}, () => {});
