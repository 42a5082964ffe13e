// The web UI in Chromium (Debian's, driven by playwright-core), against a
// `clocktower light` process, each figure with a baseline of the same run:
// - the jobs list with BENCH_UI_JOBS jobs defined (default 100,000) against
//   the same page with 10 jobs: first contentful paint and time to
//   interactive (the first page of rows shown), from navigation start, the
//   median of BENCH_UI_LOADS loads (default 5) each;
// - the live-output page receiving BENCH_UI_OUTPUT_MB of output (default 10)
//   from a running shell job, in ten bursts 0.3 s apart: time from the run
//   until the page shows the last line and the longest main-thread task
//   meanwhile (a frozen page is one long task), against the same command run
//   by the bench with its output discarded;
// - what the UI transfers on a first load, compressed and not.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { tempDir } from '../test/support/light-process.js';
import { api, startBenchServer, type BenchServer } from './light-server.js';
import { isMain, median, round } from './stats.js';

const jobs = Number(process.env['BENCH_UI_JOBS'] ?? 100_000);
const loads = Number(process.env['BENCH_UI_LOADS'] ?? 5);
const outputMb = Number(process.env['BENCH_UI_OUTPUT_MB'] ?? 10);
const chromiumPath = '/usr/bin/chromium';

async function defineJobs(url: string, count: number, prefix: string): Promise<void> {
  for (let at = 0; at < count; at += 2000) {
    await api(url, 'POST', '/v1/restore', Array.from({ length: Math.min(2000, count - at) }, (_, i) => ({
      name: `${prefix}-${String(at + i).padStart(6, '0')}`, schedule: '@every 1h', executor: 'shell', executor_config: { command: 'true' },
    })));
  }
}

/** One load of the jobs list: first contentful paint and the first rows shown, ms from navigation start. */
async function loadList(page: Page, url: string): Promise<{ fcp: number; interactive: number }> {
  await page.goto('about:blank');
  await page.goto(`${url}/ui/#/jobs`);
  await page.locator('#jobs tbody tr[data-name]').first().waitFor({ timeout: 120_000 });
  const interactive = await page.evaluate(() => performance.now());
  const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN);
  return { fcp, interactive };
}

async function listFigures(browser: Browser, url: string): Promise<{ fcp: number; interactive: number }> {
  const page = await browser.newPage();
  try {
    await loadList(page, url); // warm: the first load compiles the scripts
    const runs: { fcp: number; interactive: number }[] = [];
    for (let i = 0; i < loads; i++) runs.push(await loadList(page, url));
    return { fcp: round(median(runs.map((r) => r.fcp))), interactive: round(median(runs.map((r) => r.interactive))) };
  } finally {
    await page.close();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  if (!existsSync(chromiumPath)) throw new Error('bench ui: no /usr/bin/chromium (apt-get install chromium)');
  const root = tempDir('ct-bench-ui-');
  let big: BenchServer | undefined;
  let small: BenchServer | undefined;
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    big = await startBenchServer(join(root.path, 'big'));
    small = await startBenchServer(join(root.path, 'small'));
    const created = performance.now();
    await defineJobs(big.url, jobs, 'job');
    const createS = (performance.now() - created) / 1000;
    await defineJobs(small.url, 10, 'job');
    const bigList = await listFigures(browser, big.url);
    const smallList = await listFigures(browser, small.url);

    // Transfer of a first load (a fresh context: nothing cached).
    const context = await browser.newContext();
    const fresh = await context.newPage();
    await fresh.goto(`${small.url}/ui/#/jobs`);
    await fresh.locator('#jobs tbody tr[data-name]').first().waitFor();
    // In the page (browser types): the UI's files as the resource timing API saw them.
    const transfer = await fresh.evaluate(`(() => {
      const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
      const ui = entries.filter((e) => /\\/ui\\//.test(e.name) && !/\\/v1\\//.test(e.name));
      return { files: ui.length, transferred: ui.reduce((n, e) => n + e.transferSize, 0), decoded: ui.reduce((n, e) => n + e.decodedBodySize, 0) };
    })()`) as { files: number; transferred: number; decoded: number };
    await context.close();

    // Live output: the job prints lines of 100 characters in ten bursts 0.3 s apart (so the page
    // receives them while the job runs, not as a finished record), then a marker.
    const lines = Math.round((outputMb * 1_000_000) / 101 / 10);
    const command = `for i in 1 2 3 4 5 6 7 8 9 10; do seq -f '%099g' 1 ${lines}; sleep 0.3; done; echo the-end`;
    const rawStart = performance.now();
    execFileSync('sh', ['-c', `{ ${command}; } > /dev/null`]);
    const rawMs = performance.now() - rawStart;
    await api(small.url, 'POST', '/v1/jobs', { name: 'loud', schedule: '@manually', executor: 'shell', executor_config: { shell: 'true', command } });
    const page = await browser.newPage();
    await page.goto(`${small.url}/ui/#/jobs/loud`);
    await page.locator('#definition').waitFor();
    await page.evaluate(`(() => {
      window.longest = 0;
      new PerformanceObserver((list) => { for (const e of list.getEntries()) window.longest = Math.max(window.longest, e.duration); }).observe({ type: 'longtask' });
    })()`);
    const startedAt = performance.now();
    await page.getByRole('button', { name: 'Run now' }).click();
    const link = page.locator('#executions tbody tr a').first();
    await link.waitFor();
    await link.click();
    await page.locator('#output').getByText('the-end', { exact: false }).waitFor({ timeout: 300_000 });
    const liveMs = performance.now() - startedAt;
    const longest = await page.evaluate('window.longest') as number;
    await page.close();
    return {
      bench: 'ui',
      jobs,
      jobs_created_s: round(createS),
      list_first_paint_ms: bigList.fcp,
      list_interactive_ms: bigList.interactive,
      list_first_paint_ms_10_jobs: smallList.fcp,
      list_interactive_ms_10_jobs: smallList.interactive,
      ratio_interactive_vs_10_jobs: round(bigList.interactive / smallList.interactive),
      live_output_mb: outputMb,
      live_output_shown_ms: round(liveMs),
      live_output_raw_command_ms: round(rawMs),
      ratio_live_output_vs_raw: round(liveMs / rawMs),
      live_output_longest_task_ms: round(longest),
      ui_files: transfer.files,
      ui_transferred_bytes: transfer.transferred,
      ui_decoded_bytes: transfer.decoded,
    };
  } finally {
    await browser.close();
    await big?.stop();
    await small?.stop();
    root.remove();
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
