// Damage to the last segment that a crash cannot leave — a flipped bit in a
// record's length, zeros or a cut from the middle on — stops the open with
// CT_STORAGE_CORRUPT and leaves the file as it was; a genuinely torn last
// write is still cut back to its last whole record.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskLog } from '../../../server/storage/disk-log.js';
import { decodeRecord, markerBytes } from '../../../server/storage/record-codec.js';
import { EntryType, type Entry } from '../../../server/raft/types.js';

function dir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'ct-damage-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const entry = (index: number, size = 100): Entry => ({ index, term: 1, type: EntryType.Normal, data: Buffer.alloc(size, index % 251) });
const segOf = (d: string) => join(d, readdirSync(d).find((n) => n.endsWith('.seg'))!);

/** 200 entries, one write each, in one segment; the commit index recorded up to `commit`. */
async function build(d: string, commit: number): Promise<string> {
  const { log } = await DiskLog.open(d);
  for (let i = 1; i <= 200; i++) await log.append([entry(i)]);
  await log.setCommit(commit);
  await log.close();
  return segOf(d);
}

/** Offsets of the entry records (not the batch markers) in a segment. */
function entryOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o < buf.length;) {
    const r = decodeRecord(buf, o);
    if (!r.ok) throw new Error(`unreadable at ${o}`);
    if (r.kind === 'entry') out.push(o);
    o = r.next;
  }
  return out;
}

/** Open `d`, expecting a refusal: the error, and whether `seg` was left as it was. */
async function openDamaged(d: string, seg: string): Promise<{ err: unknown; unchanged: boolean }> {
  const before = readFileSync(seg);
  const err = await DiskLog.open(d).then(async ({ log }) => { await log.close(); return null; }, (e: unknown) => e);
  return { err, unchanged: readFileSync(seg).equals(before) };
}

for (const commit of [0, 200]) {
  const known = commit > 0 ? 'commit index recorded' : 'no commit index recorded';
  t.test(`a flipped bit in a record length in the middle of the segment is corruption (${known})`, async (t) => {
    const d = dir(t);
    const seg = await build(d, commit);
    const good = readFileSync(seg);
    const mid = entryOffsets(good)[100]!;
    for (const [byte, bit] of [[2, 0x80], [3, 0x01], [0, 0x01], [1, 0x10]] as const) {
      const bad = Buffer.from(good);
      bad[mid + byte] = bad[mid + byte]! ^ bit;
      writeFileSync(seg, bad);
      t.match(await openDamaged(d, seg), { err: { code: 'CT_STORAGE_CORRUPT', message: new RegExp(`${seg.replaceAll('/', '\\/')} is damaged at byte ${mid} .*the server will not start`) }, unchanged: true }, 'refused; the file is left as it was');
    }
  });

  t.test(`zeros from the middle of a record to the end are corruption (${known})`, async (t) => {
    const d = dir(t);
    const seg = await build(d, commit);
    const buf = readFileSync(seg);
    const from = entryOffsets(buf)[100]! + 20;
    buf.fill(0, from);
    writeFileSync(seg, buf);
    t.match(await openDamaged(d, seg), { err: { code: 'CT_STORAGE_CORRUPT', message: /is damaged at byte \d+ .*inside the batch written at byte \d+ that the file goes on past/ }, unchanged: true }, 'refused; the file is left as it was');
  });
}

t.test('a log cut short before the recorded commit index is corruption: truncated at 50%, zeroed from a batch boundary', async (t) => {
  const d = dir(t);
  const seg = await build(d, 200);
  const good = readFileSync(seg);
  truncateSync(seg, Math.floor(good.length / 2));
  t.match(await openDamaged(d, seg), { err: { code: 'CT_STORAGE_CORRUPT', message: /the log ends at index \d+, but entries up to index 200 are known to be committed/ }, unchanged: true }, 'refused; the file is left as it was');
  const zeroed = Buffer.from(good);
  zeroed.fill(0, entryOffsets(good)[100]! - markerBytes); // the marker of entry 101's write
  writeFileSync(seg, zeroed);
  t.match(await openDamaged(d, seg), { err: { code: 'CT_STORAGE_CORRUPT', message: /the log ends at index 100, but entries up to index 200 are known to be committed/ }, unchanged: true }, 'refused; the file is left as it was');
  // The commit index also rides in the hard state.
  writeFileSync(seg, good);
  rmSync(join(d, 'commit'));
  const { log } = await DiskLog.open(d);
  await log.setHardState({ term: 1, vote: '', commit: 150 });
  await log.close();
  truncateSync(seg, Math.floor(good.length / 2));
  t.match(await openDamaged(d, seg), { err: { code: 'CT_STORAGE_CORRUPT', message: /entries up to index 150 are known to be committed/ }, unchanged: true }, 'refused; the file is left as it was');
});

t.test('a torn last write is cut back to its last whole record, at every offset', async (t) => {
  const d = dir(t);
  const { log } = await DiskLog.open(d);
  for (let i = 1; i <= 20; i++) await log.append([entry(i)]);
  await log.setCommit(20);
  await log.append([entry(21), entry(22), entry(23, 40)]); // one write
  await log.close();
  const seg = segOf(d);
  const full = readFileSync(seg);
  const offsets = entryOffsets(full);
  const batchStart = offsets[20]! - markerBytes;
  for (let cut = batchStart; cut < full.length; cut++) {
    writeFileSync(seg, full.subarray(0, cut));
    const { log: l, recovered } = await DiskLog.open(d);
    const kept = cut >= offsets[22]! ? 22 : cut >= offsets[21]! ? 21 : 20;
    t.equal(l.lastIndex(), kept, `cut at ${cut}`);
    t.equal(recovered.entries.length, kept);
    await l.append([entry(kept + 1, 7)]);
    await l.close();
    const { log: l2, recovered: r2 } = await DiskLog.open(d);
    t.equal(r2.truncatedTornTail, false, 'the file is well formed after the cut');
    t.same(r2.entries.map((e) => e.index), Array.from({ length: kept + 1 }, (_, i) => i + 1), 'appends continue cleanly');
    await l2.close();
  }
  // A crash may also leave the end of the last write as zeros.
  const zeroed = Buffer.from(full);
  zeroed.fill(0, offsets[22]! + 10);
  writeFileSync(seg, zeroed);
  const { log: l3, recovered: r3 } = await DiskLog.open(d);
  t.equal(l3.lastIndex(), 22);
  t.equal(r3.truncatedTornTail, true);
  t.equal(statSync(seg).size, offsets[22]!);
  await l3.close();
});
