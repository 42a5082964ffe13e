// The single executable (npm run package) against `node dist/bin/main.js`:
// the file's size; the time from spawn to a healthy API of `light` (a fresh
// data dir each run) and the resident memory then; the time of a whole
// `version` command (process start to exit). Uses build/clocktower when it
// is there (BENCH_EXECUTABLE names another), else builds one in a temp dir.
// BENCH_RUNS (default 5) runs of each, alternating.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { isMain, median, round } from './stats.js';

const runs = Number(process.env['BENCH_RUNS'] ?? 5);

function executable(tmp: string): string {
  const given = process.env['BENCH_EXECUTABLE'] ?? resolve('build/clocktower');
  if (existsSync(given)) return given;
  const out = join(tmp, 'clocktower');
  const r = spawnSync(process.execPath, [resolve('scripts/package.mjs'), '--out', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run package failed:\n${r.stderr}`);
  return out;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] ? Number(m[1]) / 1024 : Number.NaN;
}

/** Spawn to the first healthy answer, and the RSS then. */
async function startLight(command: string, args: string[], dataDir: string): Promise<{ ms: number; rssMb: number }> {
  const started = process.hrtime.bigint();
  const child = spawn(command, [...args, 'light', '--data-dir', dataDir, '--http-addr', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    let log = '';
    const url = await new Promise<string>((res, rej) => {
      child.stderr.on('data', (c: Buffer) => {
        log += c.toString();
        const m = /API on (http:\/\/[^\s,]+)/.exec(log);
        if (m?.[1]) res(m[1]);
      });
      void exited.then(() => rej(new Error(`exited:\n${log}`)));
    });
    for (;;) {
      const res = await request(`${url}/health`).catch(() => null);
      if (res) {
        await res.body.text();
        if (res.statusCode === 200) break;
      }
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    return { ms, rssMb: rssMb(child.pid ?? 0) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

function versionMs(command: string, args: string[]): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(command, [...args, 'version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`version failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export async function run(): Promise<Record<string, unknown>> {
  const tmp = mkdtempSync(join(tmpdir(), 'ct-bench-package-'));
  try {
    const exe = executable(tmp);
    const forms = { single: { command: exe, args: [] as string[] }, node: { command: process.execPath, args: [resolve('dist/bin/main.js')] } };
    const figures = { single: { start: [] as number[], rss: [] as number[], version: [] as number[] }, node: { start: [] as number[], rss: [] as number[], version: [] as number[] } };
    for (let i = 0; i < runs; i++) {
      for (const [name, f] of Object.entries(forms) as [keyof typeof forms, (typeof forms)['node']][]) {
        const s = await startLight(f.command, f.args, join(tmp, `${name}-${i}`));
        figures[name].start.push(s.ms);
        figures[name].rss.push(s.rssMb);
        figures[name].version.push(versionMs(f.command, f.args));
      }
    }
    const m = (xs: number[]) => round(median(xs), 1);
    return {
      bench: 'package',
      runs,
      file_bytes: statSync(exe).size,
      file_mb: round(statSync(exe).size / 1024 / 1024, 1),
      node_binary_mb: round(statSync(process.execPath).size / 1024 / 1024, 1),
      single_light_healthy_ms: m(figures.single.start),
      node_light_healthy_ms: m(figures.node.start),
      light_healthy_ratio: round(median(figures.single.start) / median(figures.node.start), 2),
      single_light_rss_mb: m(figures.single.rss),
      node_light_rss_mb: m(figures.node.rss),
      single_version_ms: m(figures.single.version),
      node_version_ms: m(figures.node.version),
      version_ratio: round(median(figures.single.version) / median(figures.node.version), 2),
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
