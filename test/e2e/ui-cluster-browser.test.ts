// The cluster page in a real browser against a real 3-server cluster, opened
// on a follower: every server with its Raft role, term, commit and applied
// index (the others' asked from their own API), the leader, and a separate
// agent with its tags. The indexes move when a write commits.
//
// UI_SCREENSHOTS=DIR saves a screenshot there.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { chromium, type Browser } from 'playwright-core';
import { call, tempDir, until } from '../support/light-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';
import { startAgentProcess } from '../support/agent-process.js';

const chromiumPath = '/usr/bin/chromium';
await until('chromium at /usr/bin/chromium', () => Promise.resolve(existsSync(chromiumPath) ? true : undefined), 120_000).catch(() => undefined);
if (!existsSync(chromiumPath)) throw new Error('no /usr/bin/chromium: install the chromium package (.ci/run does)');

const root = tempDir('ct-ui-cluster-');
const specs = await serverSpecs(root.path, ['u1', 'u2', 'u3']);
const servers: ServerProcess[] = await Promise.all(specs.map((s) => startServerProcess(s)));
const agent = await startAgentProcess('ui-agent', specs.map((s) => s.rpcAddr), { zone: 'blue' });
const browser: Browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
t.teardown(async () => {
  await browser.close();
  await agent.kill9();
  await Promise.all(servers.map((s) => s.kill9()));
  root.remove();
});

t.test('the cluster page on a follower: three servers with term, commit and applied index, the leader, the agent', async (t) => {
  const leader = await agreedLeader(servers);
  const follower = servers.find((s) => s !== leader) as ServerProcess;
  await until('the agent to register', async () => {
    const list = (await call(leader.url, 'GET', '/v1/agents')).body;
    return Array.isArray(list) && list.some((a: { name?: string }) => a.name === 'ui-agent') ? true : undefined;
  });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${follower.url}/ui/#/cluster`);
  const rows = page.locator('#servers tbody tr');
  await until('three server rows with numbers', async () => {
    if ((await rows.count()) !== 3) return undefined;
    const text = await page.locator('#servers tbody').innerText();
    return /not answering/.test(text) ? undefined : true;
  });
  const cells = async (name: string) => (await page.locator(`#servers tbody tr:has(td:text-is("${name}"))`).innerText()).split('\t').map((c) => c.trim());
  const term = ((await call(leader.url, 'GET', '/v1')).body as { raft: { term: number } }).raft.term;
  for (const s of servers) {
    const [name, , role, rowTerm, commit, applied] = await cells(s.name);
    t.equal(name, s.name);
    t.equal(role, s === leader ? 'leader' : 'follower', `${s.name}'s role`);
    t.equal(Number(rowTerm), term, `${s.name} is in the leader's term`);
    t.ok(Number(commit) > 0 && Number(applied) > 0 && Number(applied) <= Number(commit), `${s.name}: commit ${commit}, applied ${applied}`);
  }
  t.match(await page.locator('#leader').innerText(), new RegExp(`Leader: ${leader.name}`));
  t.match(await page.locator('#agents').innerText(), /ui-agent.*zone=blue/s);
  // A write moves every server's applied index on the next refresh.
  const before = Number((await cells(follower.name))[5]);
  t.equal((await call(leader.url, 'POST', '/v1/jobs', { name: 'moves-the-index', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } })).status, 201);
  await until('the follower\'s applied index to move on the page', async () => (Number((await cells(follower.name))[5]) > before ? true : undefined), 20_000);
  const shots = process.env['UI_SCREENSHOTS'];
  if (shots) {
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'cluster-3-servers.png'), fullPage: true });
  }
  t.same(errors, [], 'no script errors');
});
