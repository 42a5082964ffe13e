// Where a member listens: its Raft/cluster gRPC address and its REST API
// address (writes made on a follower are forwarded to the leader's API).
// Carried in ConfChange entries as JSON; the Raft core treats it as opaque.

export interface MemberAddress {
  readonly rpc: string;
  readonly http: string;
}

export function encodeMemberAddress(a: MemberAddress): string {
  return JSON.stringify({ rpc: a.rpc, http: a.http });
}

export function decodeMemberAddress(s: string): MemberAddress {
  try {
    const v = JSON.parse(s) as Partial<MemberAddress>;
    return { rpc: typeof v.rpc === 'string' ? v.rpc : '', http: typeof v.http === 'string' ? v.http : '' };
  } catch {
    return { rpc: s, http: '' };
  }
}
