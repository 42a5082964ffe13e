// The gRPC Raft transport between two servers on loopback: 'app' messages
// per second with 64 entries each (at most 256 in flight, as the core's
// default maxInflight), and the time to send a 50 MB snapshot.

import { RaftTransport } from '../server/cluster/raft-transport.js';
import { EntryType, type Entry, type Message } from '../server/raft/types.js';
import { isMain, median, round } from './stats.js';

const seconds = Number(process.env['BENCH_RAFT_SECONDS'] ?? 3);
const entriesPerMessage = 64;
const entryBytes = 128;
const inflight = 256;
const snapshotBytes = 50 * 1024 * 1024;
const snapshotRuns = 3;

const base: Omit<Message, 'type' | 'index' | 'entries' | 'snapshot'> = {
  from: 'a', to: 'b', term: 1, logTerm: 1, commit: 0, reject: false, rejectHint: 0, rejectHintTerm: 0, context: '',
};

function app(index: number): Message {
  const payload = Buffer.alloc(entryBytes, index & 0xff);
  const entries: Entry[] = Array.from({ length: entriesPerMessage }, (_, i) => ({ term: 1, index: index * entriesPerMessage + i + 1, type: EntryType.Normal, data: payload }));
  return { ...base, type: 'app', index: index * entriesPerMessage, entries, snapshot: null };
}

export async function run(): Promise<Record<string, unknown>> {
  let onB: (m: Message) => void = () => {};
  let onStatus: (ok: boolean) => void = () => {};
  const a = new RaftTransport({ self: 'a', listen: '127.0.0.1:0', onMessage: () => {}, onSnapshotStatus: (_peer, ok) => onStatus(ok) });
  const b = new RaftTransport({ self: 'b', listen: '127.0.0.1:0', onMessage: (m) => onB(m) });
  await a.start();
  const bAddress = await b.start();
  a.setPeer('b', bAddress);
  try {
    // Warm up the connection.
    await new Promise<void>((resolve) => {
      onB = () => resolve();
      a.send([app(0)]);
    });

    // Throughput: keep `inflight` messages outstanding for `seconds`.
    const messages = Array.from({ length: 1024 }, (_, i) => app(i));
    let sent = 0;
    let received = 0;
    let running = true;
    const start = performance.now();
    const done = new Promise<void>((resolve) => {
      onB = () => {
        received++;
        if (running) {
          a.send([messages[sent++ % messages.length] as Message]);
        } else if (received === sent) {
          resolve();
        }
      };
    });
    for (let i = 0; i < inflight; i++) a.send([messages[sent++ % messages.length] as Message]);
    const timer = setTimeout(() => (running = false), seconds * 1000);
    await done;
    clearTimeout(timer);
    const elapsed = (performance.now() - start) / 1000;
    const dropped = a.stats().droppedOut;

    // Snapshots: from send() to delivery at b, and to the ok at a.
    const data = Buffer.alloc(snapshotBytes);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    const delivered: number[] = [];
    const acked: number[] = [];
    for (let run = 0; run < snapshotRuns; run++) {
      const t0 = performance.now();
      const got = new Promise<void>((resolve) => {
        onB = (m) => {
          if (m.type === 'snap' && m.snapshot?.data.length === snapshotBytes) resolve();
        };
      });
      const ok = new Promise<boolean>((resolve) => (onStatus = resolve));
      a.send([{ ...base, type: 'snap', index: 0, entries: [], snapshot: { meta: { index: 1000, term: 1, conf: { voters: ['a', 'b'], learners: [] } }, data } }]);
      await got;
      delivered.push(performance.now() - t0);
      if (!(await ok)) throw new Error('snapshot transfer failed');
      acked.push(performance.now() - t0);
    }
    const snapshotMs = median(acked);
    return {
      bench: 'raft-transport',
      seconds: round(elapsed),
      entries_per_message: entriesPerMessage,
      entry_bytes: entryBytes,
      inflight,
      messages_per_s: round(received / elapsed),
      entries_per_s: round((received * entriesPerMessage) / elapsed),
      payload_mb_per_s: round((received * entriesPerMessage * entryBytes) / elapsed / 1e6),
      dropped,
      snapshot_mb: snapshotBytes / (1024 * 1024),
      snapshot_delivered_ms: round(median(delivered)),
      snapshot_acked_ms: round(snapshotMs),
      snapshot_acked_ms_runs: acked.map((x) => round(x)),
      snapshot_mb_per_s: round(snapshotBytes / (1024 * 1024) / (snapshotMs / 1000)),
    };
  } finally {
    await a.close();
    await b.close();
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
