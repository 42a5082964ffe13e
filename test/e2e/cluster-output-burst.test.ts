// A burst of output on a real 3-server cluster on loopback: 150 shell
// executions, held at a gate (a shared flock the test holds exclusively)
// until all of them run, then let go at once, each printing 256 KiB of NUL
// bytes. Their results reach the leader together; all of them must be
// committed (none left running) and the cluster must keep taking writes.
// Before results were split into bounded log entries, they made one entry
// of ~230 MB (JSON escapes a NUL to six bytes), over gRPC's 64 MiB message
// limit: followers never received it, nothing committed again.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { call, executions, tempDir, until, type ExecutionJson } from '../support/light-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';

const jobs = Array.from({ length: 15 }, (_, i) => `burst-${i}`);
const runsPerJob = 10;
const total = jobs.length * runsPerJob;
const limit = 256_000;

const root = tempDir('ct-burst-');
const gate = join(root.path, 'gate');
const specs = await serverSpecs(root.path, ['s1', 's2', 's3']);
const servers: ServerProcess[] = await Promise.all(specs.map((s) => startServerProcess(s)));
t.teardown(async () => {
  for (const s of servers) await s.kill9().catch(() => {});
  root.remove();
});

/** Hold the gate exclusively until release() (flock(1) holds it while its `cat` reads our stdin). */
async function holdGate(): Promise<() => void> {
  const holder = spawn('flock', ['--exclusive', gate, '-c', 'echo held; cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => { holder.kill('SIGKILL'); });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (d: Buffer) => { if (d.toString().includes('held')) resolve(); });
    holder.once('exit', (code) => reject(new Error(`flock exited with ${String(code)} before it held the gate`)));
  });
  return () => holder.stdin.end();
}

t.test('150 results of 256 KiB of NULs at once: all committed, and later writes succeed', async (t) => {
  const leader = await agreedLeader(servers);
  const release = await holdGate();
  for (const name of jobs) {
    const r = await call(leader.url, 'POST', '/v1/jobs', {
      name, schedule: '@manually', executor: 'shell',
      executor_config: { shell: 'true', command: `flock --shared ${gate} true && head -c 262144 /dev/zero` },
    });
    t.equal(r.status, 201, `create ${name}`);
  }
  for (const name of jobs) {
    for (let i = 0; i < runsPerJob; i++) {
      const r = await call(leader.url, 'POST', `/v1/jobs/${name}/run`);
      t.equal(r.status, 202, `run ${name} #${i + 1}`);
    }
  }
  await until(`all ${total} executions to run`, async () => {
    const busy = (await call(leader.url, 'GET', '/v1/busy')).body as ExecutionJson[];
    return busy.length === total ? true : undefined;
  }, 30_000);
  release();

  const finished = await until('every execution to finish', async () => {
    const all: ExecutionJson[] = [];
    for (const name of jobs) all.push(...await executions(leader.url, name));
    return all.length === total && all.every((e) => e.finished_at !== null) ? all : undefined;
  }, 40_000);
  t.equal(finished.filter((e) => e.state === 'succeeded').length, total, 'every execution succeeded');
  const nul = '\u0000'.repeat(limit);
  const sample = finished[0];
  t.ok(sample, 'an execution');
  if (sample) t.same({ length: sample.output.length, nuls: sample.output === nul, truncated: sample.output_truncated }, { length: limit, nuls: true, truncated: true }, 'a sample');
  t.equal(finished.filter((e) => e.output === nul && e.output_truncated).length, total, 'each keeps the last 256000 NULs of its output, marked truncated');

  const after = await call(leader.url, 'POST', '/v1/jobs', { name: 'after-burst', schedule: '@manually', executor: 'shell', executor_config: { command: 'echo still here' } });
  t.equal(after.status, 201, 'a write after the burst commits');
  t.equal((await call(leader.url, 'POST', '/v1/jobs/after-burst/run')).status, 202);
  const ran = await until('the run after the burst to finish', async () => {
    const [e] = await executions(leader.url, 'after-burst');
    return e?.finished_at ? e : undefined;
  });
  t.equal(ran.output, 'still here\n');
  for (const s of servers) {
    t.equal((await call(s.url, 'GET', '/v1/jobs/after-burst')).status, 200, `${s.name} has the write`);
  }
});
