// The simulated network: every message gets a delivery tick (so random delays
// reorder them), may be lost or duplicated, and is dropped on a blocked link.
// Links are directed, so a partition can be one-way.

import type { Message } from '../../server/raft/types.js';
import type { Prng } from './prng.js';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  readonly loss: number;
  /** Probability that a message is delivered twice. */
  readonly duplicate: number;
  /** Largest delay in ticks (delays are uniform in [0, maxDelay]). */
  readonly maxDelay: number;
}

interface InFlight {
  readonly at: number;
  readonly seq: number;
  readonly message: Message;
}

export class SimNetwork {
  private inFlight: InFlight[] = [];
  private seq = 0;
  private readonly blocked = new Set<string>();
  sent = 0;
  lost = 0;
  duplicated = 0;
  /**
   * How snapshot streams ended, for the senders: the real transport reports a
   * stream that failed (lost, blocked, its receiver gone) or finished, and the
   * core waits for that report before it sends the follower anything else.
   */
  private snapshotReports: { from: string; to: string; ok: boolean }[] = [];

  constructor(private readonly random: Prng, public faults: NetworkFaults) {}

  send(now: number, messages: readonly Message[]): void {
    for (const message of messages) {
      this.sent++;
      if (this.random.chance(this.faults.loss)) {
        this.lost++;
        if (message.type === 'snap') this.snapshotReports.push({ from: message.from, to: message.to, ok: false });
        continue;
      }
      const copies = this.random.chance(this.faults.duplicate) ? 2 : 1;
      if (copies === 2) this.duplicated++;
      for (let i = 0; i < copies; i++) {
        this.inFlight.push({ at: now + this.random.int(this.faults.maxDelay + 1), seq: this.seq++, message });
      }
    }
  }

  /** Messages due by `now`, in a random order; blocked links drop theirs. */
  due(now: number): Message[] {
    const ready: InFlight[] = [];
    const later: InFlight[] = [];
    for (const f of this.inFlight) (f.at <= now ? ready : later).push(f);
    this.inFlight = later;
    // Fisher-Yates with the run's PRNG: delivery order is part of the seed.
    for (let i = ready.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      [ready[i], ready[j]] = [ready[j] as InFlight, ready[i] as InFlight];
    }
    const out: Message[] = [];
    for (const { message } of ready) {
      const blocked = this.blocked.has(link(message.from, message.to));
      if (message.type === 'snap') this.snapshotReports.push({ from: message.from, to: message.to, ok: !blocked });
      if (!blocked) out.push(message);
    }
    return out;
  }

  /** Snapshot stream outcomes since the last call. */
  takeSnapshotReports(): { from: string; to: string; ok: boolean }[] {
    return this.snapshotReports.splice(0);
  }

  block(from: string, to: string): void { this.blocked.add(link(from, to)); }
  isBlocked(from: string, to: string): boolean { return this.blocked.has(link(from, to)); }
  heal(): void { this.blocked.clear(); }
  get partitioned(): boolean { return this.blocked.size > 0; }
  /** Drop what is in flight to a server (it crashed: its sockets are gone). */
  dropTo(id: string): void {
    for (const f of this.inFlight) if (f.message.to === id && f.message.type === 'snap') this.snapshotReports.push({ from: f.message.from, to: id, ok: false });
    this.inFlight = this.inFlight.filter((f) => f.message.to !== id);
  }
}

function link(from: string, to: string): string {
  return `${from}>${to}`;
}
