import t from 'tap';
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DiskLog } from '../../../server/storage/disk-log.js';
import { EntryType, type Entry } from '../../../server/raft/types.js';

function dir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'ct-log-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const entry = (index: number, term = 1, text = `e${index}`): Entry => ({ index, term, type: EntryType.Normal, data: Buffer.from(text) });
const texts = (es: Entry[]) => es.map((e) => Buffer.from(e.data).toString());

t.test('entries and hard state survive a reopen', async (t) => {
  const d = dir(t);
  const { log } = await DiskLog.open(d);
  await log.append([entry(1), entry(2)]);
  await log.append([entry(3, 2)]);
  await log.setHardState({ term: 2, vote: 'n1', commit: 3 });
  await log.close();
  const { log: again, recovered } = await DiskLog.open(d);
  t.same(texts(recovered.entries), ['e1', 'e2', 'e3']);
  t.same(recovered.hardState, { term: 2, vote: 'n1', commit: 3 });
  t.equal(again.lastIndex(), 3);
  t.equal(again.term(3), 2);
  t.equal(recovered.truncatedTornTail, false);
  await again.append([entry(4)]);
  await again.close();
});

t.test('group commit: 64 concurrent appends share fsyncs', async (t) => {
  const { log } = await DiskLog.open(dir(t));
  await Promise.all(Array.from({ length: 64 }, (_, i) => log.append([entry(i + 1)])));
  t.equal(log.stats.appends, 64);
  t.ok(log.stats.syncs <= 3, `64 appends took ${log.stats.syncs} fsyncs`);
  t.equal(log.lastIndex(), 64);
  await log.close();
});

t.test('a torn tail at every byte offset of the last record is cut cleanly', async (t) => {
  const d = dir(t);
  const { log } = await DiskLog.open(d);
  await log.append([entry(1), entry(2), entry(3, 1, 'the last record')]);
  await log.close();
  const seg = join(d, readdirSync(d).find((n) => n.endsWith('.seg'))!);
  const full = readFileSync(seg);
  const lastStart = full.length - (8 + 17 + 'the last record'.length);
  for (let cut = lastStart; cut < full.length; cut++) {
    writeFileSync(seg, full.subarray(0, cut));
    const { log: l, recovered } = await DiskLog.open(d);
    t.same(texts(recovered.entries), ['e1', 'e2'], `cut at ${cut}`);
    t.equal(recovered.truncatedTornTail, cut > lastStart);
    t.equal(statSync(seg).size, lastStart, 'file truncated at the last whole record');
    await l.append([entry(3, 1, 'again')]);
    await l.close();
    const { log: l2, recovered: r2 } = await DiskLog.open(d);
    t.same(texts(r2.entries), ['e1', 'e2', 'again'], 'appends continue cleanly');
    await l2.close();
  }
});

t.test('zeros after the last record are a torn tail; a flipped byte mid-log is corruption', async (t) => {
  const d = dir(t);
  const { log } = await DiskLog.open(d);
  await log.append([entry(1), entry(2), entry(3)]);
  await log.close();
  const seg = join(d, readdirSync(d).find((n) => n.endsWith('.seg'))!);
  const good = readFileSync(seg);
  writeFileSync(seg, Buffer.concat([good, Buffer.alloc(4096)]));
  const { log: l, recovered } = await DiskLog.open(d);
  t.equal(recovered.entries.length, 3);
  await l.close();
  const bad = Buffer.from(good);
  bad[8 + 17 + 1] = bad[8 + 17 + 1]! ^ 0xff; // inside the first record's data
  writeFileSync(seg, bad);
  await t.rejects(DiskLog.open(d), { code: 'CT_STORAGE_CORRUPT', message: /damaged at byte 0 .*checksum/ });
  writeFileSync(seg, good);
  writeFileSync(join(d, 'hardstate'), 'garbage');
  await t.rejects(DiskLog.open(d), { code: 'CT_STORAGE_CORRUPT', message: /hardstate/ });
});

t.test('a conflicting suffix is replaced', async (t) => {
  const d = dir(t);
  const { log } = await DiskLog.open(d);
  await log.append([entry(1), entry(2), entry(3), entry(4)]);
  await log.append([entry(3, 2, 'new3')]);
  t.equal(log.lastIndex(), 3);
  t.equal(log.term(3), 2);
  await log.close();
  const { recovered } = await DiskLog.open(d);
  t.same(texts(recovered.entries), ['e1', 'e2', 'new3']);
  const { log: l } = await DiskLog.open(d);
  await t.rejects(l.append([entry(9)]), { code: 'CT_STORAGE_MISUSE' });
  await l.close();
});

t.test('segments roll over; a snapshot drops the segments it covers', async (t) => {
  const d = dir(t);
  const { log } = await DiskLog.open(d, { segmentBytes: 200 });
  for (let i = 1; i <= 40; i++) await log.append([entry(i)]);
  const before = readdirSync(d).filter((n) => n.endsWith('.seg')).length;
  t.ok(before > 5, `${before} segments`);
  await log.saveSnapshot({ meta: { index: 30, term: 1, conf: { voters: ['n1'], learners: [] } }, data: Buffer.from('state@30') });
  const after = readdirSync(d).filter((n) => n.endsWith('.seg')).length;
  t.ok(after < before, `${after} segments after the snapshot`);
  t.equal(log.firstIndex(), 31);
  t.equal(log.term(30), 1);
  await log.append([entry(41)]);
  await log.close();
  const { recovered } = await DiskLog.open(d, { segmentBytes: 200 });
  t.equal(Buffer.from(recovered.snapshot!.data).toString(), 'state@30');
  t.same(recovered.entries.map((e) => e.index), Array.from({ length: 11 }, (_, i) => 31 + i));
});

t.test('a snapshot beyond the log replaces it', async (t) => {
  const d = dir(t);
  const { log } = await DiskLog.open(d);
  await log.append([entry(1), entry(2)]);
  await log.saveSnapshot({ meta: { index: 100, term: 5, conf: { voters: [], learners: [] } }, data: Buffer.from('x') });
  t.equal(log.lastIndex(), 100);
  await log.append([entry(101, 5)]);
  await log.close();
  const { recovered } = await DiskLog.open(d);
  t.same(recovered.entries.map((e) => e.index), [101]);
});

t.test('kill -9 of a writing process loses no acknowledged append', async (t) => {
  const d = dir(t);
  const child = fork(resolve('dist/test/server/storage/fixtures/append-forever.js'), [d], { stdio: 'ignore' });
  let acked = 0;
  const exited = new Promise((r) => child.once('exit', r));
  await new Promise<void>((res) => {
    child.on('message', (m: { acked: number }) => {
      acked = Math.max(acked, m.acked);
      if (acked >= 300) res();
    });
  });
  child.kill('SIGKILL');
  await exited;
  const { log, recovered } = await DiskLog.open(d);
  t.ok(recovered.entries.length >= acked, `${recovered.entries.length} entries on disk, ${acked} acknowledged`);
  t.same(recovered.entries.slice(0, acked).map((e) => e.index), Array.from({ length: acked }, (_, i) => i + 1));
  await log.close();
});

t.test('truncating the only segment to nothing recovers an empty log', async (t) => {
  const d = dir(t);
  const { log } = await DiskLog.open(d);
  await log.append([entry(1)]);
  await log.close();
  truncateSync(join(d, readdirSync(d).find((n) => n.endsWith('.seg'))!), 3);
  const { log: l, recovered } = await DiskLog.open(d);
  t.same(recovered.entries, []);
  await l.append([entry(1, 1, 'fresh')]);
  await l.close();
});

t.test('a short write under a file-size limit fails the append; only whole records are on disk', async (t) => {
  const d = dir(t);
  // The first write is a 29-byte batch marker and record 1 (8 + 17 + 100 = 125
  // bytes); the limit lets 31 bytes of the second write in (its marker and 2
  // bytes of record 2).
  // The fixture catches SIGXFSZ, so the kernel returns a short write and then
  // EFBIG instead of killing the process.
  const fixture = resolve('dist/test/server/storage/fixtures/short-write.js');
  const out = execFileSync('prlimit', ['--fsize=185', process.execPath, fixture, d], { encoding: 'utf8' });
  const r = JSON.parse(out) as { first: string; second: string; third: string; lastIndex: number };
  t.equal(r.first, 'ok');
  t.equal(r.second, 'CT_STORAGE_IO', 'the partially written append is rejected');
  t.equal(r.third, 'CT_STORAGE_IO', 'the log stays failed');
  t.equal(r.lastIndex, 1, 'the log does not claim the unwritten entry');
  const seg = join(d, readdirSync(d).find((n) => n.endsWith('.seg'))!);
  t.equal(statSync(seg).size, 185, 'the kernel did write part of record 2');
  const { log, recovered } = await DiskLog.open(d);
  t.same(recovered.entries.map((e) => e.index), [1], 'only the whole record survives a reopen');
  t.equal(recovered.truncatedTornTail, true);
  await log.append([entry(2)]);
  await log.close();
  const { log: again, recovered: r2 } = await DiskLog.open(d);
  t.same(texts(r2.entries.slice(1)), ['e2'], 'appends continue after the cut');
  await again.close();
});
