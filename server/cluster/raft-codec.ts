// Converts Raft messages (server/raft/types.ts) to and from their wire form
// (proto/raft.proto). Terms and indexes are uint64 on the wire and arrive as
// decimal strings; they must fit a JavaScript number exactly, and be no more
// than maxWireNumber: a term or index near 2^53 could not be incremented
// safely, and one such term, persisted, would stop the cluster for good (every
// later message would carry a term that is not a safe integer).

import type { Entry as WireEntry, Entry__Output as WireEntryOut } from '../../proto/generated/clocktower/raft/v1/Entry.js';
import type { MessageType__Output as WireMessageType } from '../../proto/generated/clocktower/raft/v1/MessageType.js';
import type { RaftMessage, RaftMessage__Output } from '../../proto/generated/clocktower/raft/v1/RaftMessage.js';
import type { SnapshotHeader, SnapshotHeader__Output } from '../../proto/generated/clocktower/raft/v1/SnapshotHeader.js';
import { EntryType, type Entry, type Message, type MessageType, type Snapshot } from '../raft/types.js';
import { TransportError } from './transport-error.js';

const toWireType: Readonly<Record<MessageType, WireMessageType>> = {
  app: 'MESSAGE_TYPE_APP',
  appResp: 'MESSAGE_TYPE_APP_RESP',
  heartbeat: 'MESSAGE_TYPE_HEARTBEAT',
  heartbeatResp: 'MESSAGE_TYPE_HEARTBEAT_RESP',
  vote: 'MESSAGE_TYPE_VOTE',
  voteResp: 'MESSAGE_TYPE_VOTE_RESP',
  preVote: 'MESSAGE_TYPE_PRE_VOTE',
  preVoteResp: 'MESSAGE_TYPE_PRE_VOTE_RESP',
  snap: 'MESSAGE_TYPE_SNAP',
  timeoutNow: 'MESSAGE_TYPE_TIMEOUT_NOW',
  readIndex: 'MESSAGE_TYPE_READ_INDEX',
  readIndexResp: 'MESSAGE_TYPE_READ_INDEX_RESP',
};

const fromWireType = new Map<string, MessageType>(Object.entries(toWireType).map(([k, v]) => [v, k as MessageType]));

const fromWireEntryType = new Map<string, EntryType>([
  ['ENTRY_TYPE_NORMAL', EntryType.Normal],
  ['ENTRY_TYPE_CONF_CHANGE', EntryType.ConfChange],
]);

function bad(what: string): TransportError {
  return new TransportError('CT_TRANSPORT_BAD_MESSAGE', what);
}

/**
 * The largest term, index or size accepted from the wire: 2^48 (an election
 * every millisecond would take 8900 years to reach it), far from 2^53, so
 * whatever is accepted can be incremented many times over.
 */
export const maxWireNumber = 2 ** 48;

/** A uint64 from the wire as a number; throws if it is not an integer in [0, maxWireNumber]. */
export function u64(value: string, field: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw bad(`${field} ${value} is not a safe integer`);
  if (n > maxWireNumber) throw bad(`${field} ${value} is larger than ${maxWireNumber}`);
  return n;
}

function entryToWire(e: Entry): WireEntry {
  return { term: e.term, index: e.index, type: e.type, data: e.data };
}

function entryFromWire(w: WireEntryOut): Entry {
  // With enums=String an unknown enum value arrives as its number.
  const type = fromWireEntryType.get(String(w.type));
  if (type === undefined) throw bad(`unknown entry type ${String(w.type)} (a newer server?)`);
  return { term: u64(w.term, 'entry term'), index: u64(w.index, 'entry index'), type, data: w.data };
}

/** The wire form of a message, without its snapshot. */
export function messageToWire(m: Message): RaftMessage {
  return {
    type: toWireType[m.type],
    from: m.from,
    to: m.to,
    term: m.term,
    log_term: m.logTerm,
    index: m.index,
    entries: m.entries.map(entryToWire),
    commit: m.commit,
    reject: m.reject,
    reject_hint: m.rejectHint,
    reject_hint_term: m.rejectHintTerm,
    context: m.context,
  };
}

/** A message from its wire form; throws TransportError (CT_TRANSPORT_BAD_MESSAGE) if it is not valid. */
export function messageFromWire(w: RaftMessage__Output, snapshot: Snapshot | null = null): Message {
  const type = fromWireType.get(String(w.type));
  if (type === undefined) throw bad(`unknown message type ${String(w.type)}`);
  if ((type === 'snap') !== (snapshot !== null)) throw bad(`a ${type} message ${snapshot ? 'with' : 'without'} a snapshot`);
  return {
    type,
    from: w.from,
    to: w.to,
    term: u64(w.term, 'term'),
    logTerm: u64(w.log_term, 'log_term'),
    index: u64(w.index, 'index'),
    entries: w.entries.map(entryFromWire),
    commit: u64(w.commit, 'commit'),
    reject: w.reject,
    rejectHint: u64(w.reject_hint, 'reject_hint'),
    rejectHintTerm: u64(w.reject_hint_term, 'reject_hint_term'),
    snapshot,
    context: w.context,
  };
}

/** The first chunk of InstallSnapshot for a 'snap' message. */
export function snapshotHeaderToWire(m: Message, snapshot: Snapshot): SnapshotHeader {
  const { meta } = snapshot;
  return {
    message: messageToWire(m),
    meta: { index: meta.index, term: meta.term, conf: { voters: [...meta.conf.voters], learners: [...meta.conf.learners] } },
    size: snapshot.data.length,
  };
}

/** The size of the data a snapshot header announces. */
export function snapshotSize(h: SnapshotHeader__Output): number {
  return u64(h.size, 'snapshot size');
}

/** The 'snap' message a header and the reassembled data make. */
export function snapshotMessageFromWire(h: SnapshotHeader__Output, data: Uint8Array): Message {
  if (h.message === null || h.meta === null) throw bad('snapshot header without message or meta');
  const conf = h.meta.conf ?? { voters: [], learners: [] };
  const snapshot: Snapshot = {
    meta: { index: u64(h.meta.index, 'snapshot index'), term: u64(h.meta.term, 'snapshot term'), conf: { voters: conf.voters, learners: conf.learners } },
    data,
  };
  return messageFromWire(h.message, snapshot);
}
