// kill -9 of a light-mode server at an arbitrary moment: after a restart
// every acknowledged job and execution is there, and every scheduled second
// of every job ran exactly once or is recorded as skipped with a reason.

import t from 'tap';
import { call, executions, startLight, tempDir, until, type ExecutionJson } from '../support/light-process.js';

interface SkipJson {
  first_scheduled_at: string;
  last_scheduled_at: string;
  count: number;
  reason: string;
}

const jobNames = ['tick-a', 'tick-b', 'tick-c', 'tick-d'];

async function scheduledTimes(url: string, job: string): Promise<{ ran: number[]; skipped: { first: number; last: number; count: number; reason: string }[] }> {
  const runs = (await executions(url, job)).filter((e) => e.trigger === 'schedule');
  const skips = (await call(url, 'GET', `/v1/jobs/${job}/skipped`)).body as SkipJson[];
  return {
    ran: runs.map((e) => Date.parse(e.scheduled_at)).sort((a, b) => a - b),
    skipped: skips.map((s) => ({ first: Date.parse(s.first_scheduled_at), last: Date.parse(s.last_scheduled_at), count: s.count, reason: s.reason })),
  };
}

t.test('kill -9 loses nothing acknowledged and doubles no scheduled time', async (t) => {
  const dir = tempDir();
  t.teardown(() => dir.remove());
  let server = await startLight(dir.path, ['--snapshot-every', '25']);
  for (const name of jobNames) {
    const r = await call(server.url, 'POST', '/v1/jobs', { name, schedule: '@every 1s', executor: 'shell', executor_config: { command: `echo ${name}` } });
    t.equal(r.status, 201);
  }
  await until('three runs of every job', async () => {
    for (const name of jobNames) if ((await executions(server.url, name)).length < 3) return undefined;
    return true;
  });

  // Writes in flight while the process dies: the ones that were answered must survive.
  const acknowledged: string[] = [];
  const writes = Array.from({ length: 40 }, (_, i) =>
    call(server.url, 'POST', '/v1/jobs', { name: `late-${i}`, schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } })
      .then((r) => { if (r.status === 201) acknowledged.push(`late-${i}`); })
      .catch(() => { /* the process died first: not acknowledged */ }),
  );
  await until('some writes to be acknowledged', async () => (acknowledged.length >= 5 ? true : undefined));
  const seenBefore = new Map<string, ExecutionJson[]>();
  for (const name of jobNames) seenBefore.set(name, await executions(server.url, name));
  await server.kill9();
  await Promise.all(writes);

  server = await startLight(dir.path, ['--snapshot-every', '25']);
  t.teardown(() => server.stop());
  for (const name of acknowledged) t.equal((await call(server.url, 'GET', `/v1/jobs/${name}`)).status, 200, `acknowledged job ${name} survived`);
  for (const [name, before] of seenBefore) {
    const after = new Map((await executions(server.url, name)).map((e) => [e.id, e]));
    for (const e of before) {
      const now = after.get(e.id);
      t.ok(now, `execution ${e.id} of ${name} survived`);
      if (e.finished_at !== null) t.same(now, e, `finished execution ${e.id} unchanged`);
      else t.ok(now && (now.state === 'lost' || now.finished_at !== null), `running execution ${e.id} settled (${now?.state})`);
    }
  }
  // Let the restarted server fire a few more times, then account for every second.
  const restartAt = Date.now();
  await until('runs after the restart', async () => {
    for (const name of jobNames) {
      const ran = (await scheduledTimes(server.url, name)).ran;
      if (!ran.some((at) => at > restartAt + 1000)) return undefined;
    }
    return true;
  });
  for (const name of jobNames) {
    const { ran, skipped } = await scheduledTimes(server.url, name);
    t.equal(new Set(ran).size, ran.length, `${name}: no scheduled time ran twice`);
    const first = ran[0]!;
    const last = ran[ran.length - 1]!;
    let accounted = ran.length;
    for (const s of skipped) {
      t.ok(s.reason.length > 0, `${name}: skip has a reason`);
      t.notOk(ran.some((at) => at >= s.first && at <= s.last), `${name}: skipped times did not run`);
      if (s.first >= first && s.last <= last) accounted += s.count;
    }
    // History is bounded (100 per job); this test stays well inside it.
    t.equal(accounted, (last - first) / 1000 + 1, `${name}: every second from ${first} to ${last} ran once or was skipped`);
  }
});
