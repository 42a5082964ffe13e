// The command log refused a command as larger than one entry may be (the
// built-in Raft's entry limit, etcd's request limit): the stores answer
// CT_CLUSTER_ENTRY_TOO_LARGE (dispatch does not import the cluster, so the
// code is matched here). Nothing of it was committed, and a smaller command may be.

export function isTooLarge(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'CT_CLUSTER_ENTRY_TOO_LARGE';
}
