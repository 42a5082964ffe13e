// The Open Data Mesh executor round trip: a light server runs an `odm` job
// whose executor service (here, in the bench process) calls back at once.
// Figures: run request -> task at the service, the callback PATCH -> its 200
// (the callback committed), and run request -> execution finished; against
// an `http` job hitting the same local server in the same run (one request,
// no callback), the baseline.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { api, startBenchServer } from './light-server.js';
import { isMain, round, summarize } from './stats.js';

const samples = Number(process.env['BENCH_REMOTE_SAMPLES'] ?? 200);

export async function run(): Promise<Record<string, unknown>> {
  const posted: number[] = [];
  const patched: number[] = [];
  let postedAt = 0;
  const service = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/plain') {
        res.end('ok');
        return;
      }
      postedAt = performance.now();
      const task = JSON.parse(body) as { taskId: string; callbackRef: string };
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ taskId: task.taskId, status: 'PROCESSING' }));
      void (async () => {
        const t0 = performance.now();
        const r = await request(task.callbackRef, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ taskId: task.taskId, status: 'PROCESSED', results: {} }) });
        await r.body.text();
        patched.push(performance.now() - t0);
      })();
    });
  });
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  const serviceUrl = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-remote-'));
  const server = await startBenchServer(join(dir, 'data'), ['--odm-executors', JSON.stringify({ svc: { active: true, address: serviceUrl } })]);
  try {
    await api(server.url, 'POST', '/v1/jobs', { name: 'odm', schedule: '@manually', executor: 'odm', executor_config: { service: 'svc', taskType: 'bench' } });
    await api(server.url, 'POST', '/v1/jobs', { name: 'plain', schedule: '@manually', executor: 'http', executor_config: { method: 'GET', url: `${serviceUrl}/plain`, expectCode: '200' } });

    const roundTrip = async (job: string): Promise<number> => {
      const lastId = (): Promise<number> => api(server.url, 'GET', `/v1/jobs/${job}/executions?stale`).then((r) => Math.max(0, ...(r.json as { id: string }[]).map((e) => Number(e.id))));
      const before = await lastId();
      const t0 = performance.now();
      await api(server.url, 'POST', `/v1/jobs/${job}/run`);
      if (job === 'odm') posted.push(-1);
      for (;;) {
        const list = (await api(server.url, 'GET', `/v1/jobs/${job}/executions?stale`)).json as { id: string; finished_at: string | null; success: boolean }[];
        const last = list.find((e) => Number(e.id) > before);
        if (last?.finished_at) {
          if (!last.success) throw new Error(`${job}: the execution failed`);
          if (job === 'odm') posted[posted.length - 1] = postedAt - t0;
          return performance.now() - t0;
        }
      }
    };
    const odm: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < samples; i++) {
      plain.push(await roundTrip('plain'));
      odm.push(await roundTrip('odm'));
    }
    const o = summarize(odm);
    const p = summarize(plain);
    return {
      bench: 'remote',
      odm_callback: {
        samples,
        run_to_finished_ms: o,
        run_to_task_posted_ms: summarize(posted),
        callback_patch_to_200_ms: summarize(patched),
      },
      baseline_http_executor_run_to_finished_ms: p,
      ratio_p50: round(o.p50 / p.p50),
    };
  } finally {
    await server.stop();
    service.closeAllConnections();
    service.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
