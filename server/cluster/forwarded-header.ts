// The header a server puts on a request it sends to another server's API on
// a caller's behalf (a write forwarded to the leader, a relayed stream): a
// request that carries it is never forwarded again.

export const forwardedHeader = 'x-clocktower-forwarded';
