// The web UI in a real browser (Debian's Chromium, driven by playwright-core)
// against `clocktower light` with an API token: sign in, list and search,
// run now, live output, stop, a validation error next to its field, create
// through the form, bulk delete, the cluster page.
//
// UI_SCREENSHOTS=DIR saves a screenshot of each page there.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { call, startLight, tempDir, until, type ExecutionJson } from '../support/light-process.js';

const chromiumPath = '/usr/bin/chromium';
// The browser may still be being installed: wait for it a while, then skip.
await until('chromium at /usr/bin/chromium', () => Promise.resolve(existsSync(chromiumPath) ? true : undefined), 120_000).catch(() => undefined);
if (!existsSync(chromiumPath)) throw new Error('no /usr/bin/chromium: install the chromium package (.ci/run does)');

const dir = tempDir();
const token = 'browser-test-token';
const server = await startLight(dir.path, ['--api-token', token]);
const auth = { authorization: `Bearer ${token}` };
const browser: Browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
t.teardown(async () => {
  await browser.close();
  await server.stop();
  dir.remove();
});
const url = server.url;
const shots = process.env['UI_SCREENSHOTS'];
if (shots) mkdirSync(shots, { recursive: true });
async function shot(page: Page, name: string): Promise<void> {
  if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function putJob(job: Record<string, unknown>): Promise<void> {
  const res = await call(url, 'POST', '/v1/jobs', job, auth);
  if (res.status !== 201) throw new Error(`create ${String(job['name'])}: ${res.status} ${res.text}`);
}

for (const name of ['alpha', 'beta', 'gamma']) await putJob({ name, schedule: '@every 1h', timezone: 'Europe/Berlin', executor: 'shell', executor_config: { command: `echo ${name}` } });
await putJob({ name: 'ticker', schedule: '@manually', executor: 'shell', executor_config: { shell: 'true', command: 'for i in $(seq 1 30); do echo tick $i; sleep 0.1; done' } });
await putJob({ name: 'sleeper', schedule: '@manually', executor: 'shell', executor_config: { command: 'sleep 60' } });

const context = await browser.newContext();
const page = await context.newPage();
const pageErrors: string[] = [];
page.on('pageerror', (err) => pageErrors.push(err.message));
page.on('console', (m) => {
  // Answers the UI handles (the 401 before signing in, the 400 of a bad schedule) log "Failed to load resource".
  if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
});

t.test('the UI asks for the token once, then lists the jobs', async (t) => {
  await page.goto(url);
  t.equal(new URL(page.url()).pathname, '/ui/', '/ redirects to /ui/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#jobs tbody tr[data-name="ticker"]').waitFor();
  const names = await page.locator('#jobs tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name')));
  t.same(names, ['alpha', 'beta', 'gamma', 'sleeper', 'ticker'], 'sorted by name');
  const alpha = page.locator('#jobs tbody tr[data-name="alpha"]');
  t.match(await alpha.innerText(), /@every 1h · Europe\/Berlin/);
  await shot(page, 'jobs');
});

t.test('search filters on the server, and a refresh keeps what the user typed and checked', async (t) => {
  await page.locator('#jobs tbody tr[data-name="beta"] input[type=checkbox]').check();
  const search = page.getByLabel('Search jobs by name');
  const searched = page.waitForResponse((r) => r.url().includes('q=a'));
  await search.pressSequentially('a');
  await searched;
  await until('the list to show only names with "a"', async () => {
    const names = await page.locator('#jobs tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name')));
    return names.join(',') === 'alpha,beta,gamma' ? true : undefined;
  });
  await search.pressSequentially('l'); // typed, not yet sent
  // Two refreshes later what is typed and checked is still there.
  for (let i = 0; i < 2; i++) await page.waitForResponse((r) => r.url().includes('/v1/jobs?'), { timeout: 10_000 });
  t.equal(await search.inputValue(), 'al');
  t.ok(await search.evaluate((el) => el === el.ownerDocument.activeElement), 'the search box keeps the focus');
  await until('the list for "al"', async () => ((await page.locator('#jobs tbody tr').count()) === 1 ? true : undefined));
  await search.fill('');
  await page.locator('#jobs tbody tr[data-name="ticker"]').waitFor();
  t.ok(await page.locator('#jobs tbody tr[data-name="beta"] input[type=checkbox]').isChecked(), 'the checked row stays checked');
  await page.locator('#jobs tbody tr[data-name="beta"] input[type=checkbox]').uncheck();
});

t.test('run now, then the live output of the execution', async (t) => {
  await page.locator('#jobs a', { hasText: /^ticker$/ }).click();
  await page.locator('#preview').getByText('@manually in UTC').waitFor();
  t.match(await page.locator('#preview').innerText(), /never fires again/i);
  await page.getByRole('button', { name: 'Run now' }).click();
  const link = page.locator('#executions tbody tr a').first();
  await link.waitFor();
  await shot(page, 'job');
  await link.click();
  await page.locator('#output').getByText('tick 3', { exact: false }).waitFor();
  const state = await page.locator('#execution-state').innerText();
  t.match(state, /running|pending/, 'output appears while it runs');
  await page.locator('#execution-state', { hasText: 'succeeded' }).waitFor({ timeout: 20_000 });
  const text = await page.locator('#output').innerText();
  t.match(text, /tick 1\n/);
  t.match(text, /tick 30/);
  await shot(page, 'execution');
  await page.goto(`${url}/ui/#/jobs/ticker`);
  await page.locator('#chart svg[aria-label*="1 succeeded"]').waitFor();
  t.match(await page.locator('#chart svg').getAttribute('aria-label'), /^Last 14 days: 1 succeeded, 0 failed$/, 'the chart counts the run');
});

t.test('stop a running execution', async (t) => {
  await page.goto(`${url}/ui/#/jobs/sleeper`);
  await page.getByRole('button', { name: 'Run now' }).click();
  const stop = page.getByRole('button', { name: /^Stop execution/ });
  await stop.waitFor();
  await stop.click();
  const stopped = await until('the sleep to end', async () => {
    const list = (await call(url, 'GET', '/v1/jobs/sleeper/executions', undefined, auth)).body as ExecutionJson[];
    return list[0]?.finished_at ? list[0] : undefined;
  });
  t.not(stopped.state, 'succeeded');
  await page.locator('#executions .state-' + stopped.state).first().waitFor();
});

t.test('edit: the server validation error is shown next to its field, then a good save', async (t) => {
  await page.goto(`${url}/ui/#/jobs/alpha/edit`);
  const schedule = page.getByLabel('Schedule', { exact: true });
  await until('the form to be filled', async () => ((await schedule.inputValue()) === '@every 1h' ? true : undefined));
  await schedule.fill('61 * * * * *');
  await page.getByRole('button', { name: 'Save' }).click();
  const error = page.locator('#f-schedule-error');
  await error.getByText("can't parse job schedule", { exact: false }).waitFor();
  t.equal(await schedule.getAttribute('aria-invalid'), 'true');
  await shot(page, 'edit-error');
  await schedule.fill('0 0 6 * * *');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/#\/jobs\/alpha$/);
  const saved = (await call(url, 'GET', '/v1/jobs/alpha', undefined, auth)).body as { schedule: string; timezone: string; executor_config: Record<string, string> };
  t.match(saved, { schedule: '0 0 6 * * *', timezone: 'Europe/Berlin', executor_config: { command: 'echo alpha' } }, 'a PUT of the whole record');
  await page.locator('#preview li').nth(9).waitFor();
  t.match(await page.locator('#preview li').first().innerText(), /06:00:00/, 'ten fire times in the job\'s zone');
  t.equal(await page.locator('#schedule-words').innerText(), 'At 06:00 (Europe/Berlin time)', 'the schedule in words');
});

t.test('create a job through the form and see it run', async (t) => {
  await page.goto(`${url}/ui/#/new`);
  await page.getByLabel('Executor', { exact: true }).selectOption('shell');
  await page.getByLabel('Name', { exact: true }).fill('made-in-ui');
  await page.getByLabel('Schedule', { exact: true }).fill('@every 1s');
  await page.getByLabel('Executor config (JSON)').fill('{"command": "echo from the form"}');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/#\/jobs\/made-in-ui$/);
  await page.locator('#executions tbody td.state-succeeded').first().waitFor({ timeout: 20_000 });
  const list = (await call(url, 'GET', '/v1/jobs/made-in-ui/executions', undefined, auth)).body as ExecutionJson[];
  t.ok(list.some((e) => e.output === 'from the form\n'));
});

t.test('bulk delete asks first', async (t) => {
  await page.goto(`${url}/ui/#/jobs`);
  await page.locator('#jobs tbody tr[data-name="gamma"] input[type=checkbox]').check();
  await page.locator('#jobs tbody tr[data-name="made-in-ui"] input[type=checkbox]').check();
  const dialogs: string[] = [];
  page.once('dialog', (d) => {
    dialogs.push(d.message());
    void d.accept();
  });
  await page.getByRole('button', { name: 'Delete selected' }).click();
  await until('both jobs to go', async () => {
    const left = (await call(url, 'GET', '/v1/jobs?q=m', undefined, auth)).body as { name: string }[];
    return left.some((j) => j.name === 'gamma' || j.name === 'made-in-ui') ? undefined : true;
  });
  t.match(dialogs[0], /Delete 2 jobs: gamma, made-in-ui\?/);
  await until('the rows to go', async () => ((await page.locator('#jobs tbody tr[data-name="gamma"]').count()) === 0 ? true : undefined));
});

t.test('runs: a diamond drawn as a graph of its tasks, all succeeded; a run stopped and restarted from its page', async (t) => {
  const shell = (command: string) => ({ executor: 'shell', executor_config: { shell: 'true', command } });
  await putJob({ name: 'wf-a', schedule: '@manually', ...shell('echo a') });
  await putJob({ name: 'wf-b', schedule: '', depends_on: [{ job: 'wf-a' }], ...shell('echo b') });
  await putJob({ name: 'wf-c', schedule: '', depends_on: [{ job: 'wf-a' }], ...shell('echo c') });
  await putJob({ name: 'wf-d', schedule: '', depends_on: [{ job: 'wf-b' }, { job: 'wf-c' }], ...shell('echo d') });
  const started = await call(url, 'POST', '/v1/jobs/wf-a/run', {}, auth);
  const runId = (started.body as { run_id?: string }).run_id ?? '';
  t.ok(runId !== '', 'the root started a run');
  await page.getByRole('link', { name: 'Runs' }).click();
  await page.locator(`#runs tbody tr[data-id="${runId}"] a`).first().click();
  await page.locator('#run-state', { hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
  t.equal(await page.locator('#run-graph .task').count(), 4, 'four tasks in the graph');
  t.equal(await page.locator('#run-graph .task-succeeded').count(), 4, 'all succeeded');
  t.equal(await page.locator('#run-graph .edge').count(), 4, 'four edges: a->b, a->c, b->d, c->d');
  const x = async (job: string) => Number(await page.locator(`#run-graph .task[data-job="${job}"] rect`).getAttribute('x'));
  t.ok((await x('wf-a')) < (await x('wf-b')) && (await x('wf-b')) === (await x('wf-c')) && (await x('wf-c')) < (await x('wf-d')), 'columns by depth');
  await shot(page, 'run');

  await putJob({ name: 'wf-slow', schedule: '@manually', ...shell('sleep 60') });
  await putJob({ name: 'wf-after', schedule: '', depends_on: [{ job: 'wf-slow' }], ...shell('echo after') });
  const slow = (await call(url, 'POST', '/v1/jobs/wf-slow/run', {}, auth)).body as { run_id?: string };
  await page.goto(`${url}/ui/#/runs/${encodeURIComponent(slow.run_id ?? '')}`);
  await page.locator('#run-graph .task-running').waitFor();
  await page.getByRole('button', { name: 'Stop run' }).click();
  await page.locator('#run-state', { hasText: 'stopped' }).waitFor({ timeout: 30_000 });
  t.ok(await page.getByRole('button', { name: 'Restart run' }).isEnabled(), 'a stopped run can be restarted');
  await page.getByRole('button', { name: 'Restart run' }).click();
  await page.locator('#run-state', { hasText: 'running' }).waitFor({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Stop run' }).click();
  await page.locator('#run-state', { hasText: 'stopped' }).waitFor({ timeout: 30_000 });
});

t.test('the cluster page', async (t) => {
  await page.getByRole('link', { name: 'Cluster' }).click();
  await page.locator('#servers tbody tr').first().waitFor();
  t.match(await page.locator('#servers').innerText(), /node1.*leader/s);
  t.match(await page.locator('#leader').innerText(), /Leader: node1/);
  await shot(page, 'cluster');
  t.same(pageErrors, [], 'no script errors on any page');
});
