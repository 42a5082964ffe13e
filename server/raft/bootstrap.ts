// The state a brand-new cluster's servers start from. As etcd-io/raft does,
// the initial members are written into the log as ConfChange entries
// (term 1, committed), so that a server which joins later learns the whole
// membership by replaying the log, as it learns every later change.

import { encodeConfChange } from './conf-change.js';
import { EntryType, type Entry, type RestoredState } from './types.js';

export interface InitialMember {
  readonly id: string;
  readonly address: string;
}

/** Every initial server must be given the same members (order does not matter). */
export function bootstrapState(members: readonly InitialMember[]): RestoredState {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const entries: Entry[] = sorted.map((m, i) => ({
    term: 1, index: i + 1, type: EntryType.ConfChange, data: encodeConfChange({ type: 'addVoter', node: m.id, address: m.address }),
  }));
  return { hardState: { term: 1, vote: '', commit: entries.length }, snapshot: null, entries, conf: { voters: [], learners: [] }, applied: 0 };
}

/** A server that will be added to an existing cluster: it knows nothing until the leader contacts it. */
export const joiningState: RestoredState = {
  hardState: { term: 0, vote: '', commit: 0 }, snapshot: null, entries: [], conf: { voters: [], learners: [] }, applied: 0,
};
