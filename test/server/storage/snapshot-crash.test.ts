// A crash at every step of a snapshot install leaves a data directory that
// opens, holds either the old state or the new one whole, and takes appends.
// The crash is real: a child process installs the snapshot and SIGKILLs
// itself right after the named step (fixtures/snapshot-crash.ts).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DiskLog, snapshotSteps } from '../../../server/storage/disk-log.js';
import { EntryType } from '../../../server/raft/types.js';

const fixture = resolve('dist/test/server/storage/fixtures/snapshot-crash.js');
const modes = {
  compact: { index: 30, term: 1, entries: Array.from({ length: 10 }, (_, i) => 31 + i) },
  beyond: { index: 100, term: 2, entries: [] as number[] },
  conflict: { index: 35, term: 2, entries: [] as number[] },
} as const;
const old = { index: 20, entries: Array.from({ length: 20 }, (_, i) => 21 + i) };

for (const [mode, expected] of Object.entries(modes)) {
  for (const step of snapshotSteps) {
    t.test(`${mode}: a crash after ${step}`, async (t) => {
      const d = mkdtempSync(join(tmpdir(), 'ct-snapcrash-'));
      t.teardown(() => rmSync(d, { recursive: true, force: true }));
      const run = spawnSync(process.execPath, [fixture, d, mode, step], { encoding: 'utf8' });
      t.equal(run.signal, 'SIGKILL', `the fixture crashed at ${step} (${run.stderr})`);

      const { log, recovered } = await DiskLog.open(d, { segmentBytes: 300 });
      const installed = step !== 'snapshot-temp-synced';
      const want = installed ? expected : { ...old, term: 1 };
      t.equal(recovered.snapshot?.meta.index, want.index, installed ? 'the new snapshot is in place' : 'the old snapshot is in place');
      t.equal(Buffer.from(recovered.snapshot!.data).toString(), `state@${want.index}`);
      t.same(recovered.entries.map((e) => e.index), want.entries, 'the log after the snapshot');
      t.ok(recovered.entries.every((e) => e.term === 1), 'no entry from a log the snapshot replaced');
      t.equal(log.lastIndex(), want.entries.at(-1) ?? want.index);
      const names = readdirSync(d);
      t.notOk(names.some((n) => n.endsWith('.tmp')), 'no temp file left');
      const segs = names.filter((n) => n.endsWith('.seg')).map((n) => Number(n.slice(0, 20)));
      t.notOk(segs.slice(1).some((first) => first <= want.index + 1), `no segment wholly covered by the snapshot is left (${segs.join(', ')})`);
      if (want.entries.length === 0) t.same(segs, [], 'a replaced log leaves no segment');

      const next = log.lastIndex() + 1;
      const term = installed ? expected.term : 1;
      await log.append([{ index: next, term, type: EntryType.Normal, data: Buffer.from('after') }]);
      await log.close();
      const { log: again, recovered: r2 } = await DiskLog.open(d, { segmentBytes: 300 });
      t.same(r2.entries.map((e) => e.index), [...want.entries, next], 'appends continue after the recovered state');
      t.equal(again.term(next), term);
      await again.close();
    });
  }
}

t.test('without a crash the fixture finishes', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'ct-snapcrash-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  const run = spawnSync(process.execPath, [fixture, d, 'beyond', 'none'], { encoding: 'utf8' });
  t.equal(run.stdout, 'done', run.stderr);
  t.equal(readdirSync(d).filter((n) => n.endsWith('.snap')).length, 2, 'two snapshots kept');
});
