// Majority arithmetic over a set of voters.

/** The largest index that a majority of `matches` has reached. */
export function majorityIndex(matches: readonly number[]): number {
  if (matches.length === 0) return 0;
  const sorted = [...matches].sort((a, b) => b - a);
  return sorted[Math.floor(matches.length / 2)] ?? 0;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Tally votes of `voters`; a missing entry has not answered yet. */
export function voteResult(voters: Iterable<string>, votes: ReadonlyMap<string, boolean>): VoteResult {
  let n = 0;
  let granted = 0;
  let rejected = 0;
  for (const v of voters) {
    n++;
    const vote = votes.get(v);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const quorum = Math.floor(n / 2) + 1;
  if (granted >= quorum) return 'won';
  if (n - rejected < quorum) return 'lost';
  return 'pending';
}
