// The command log refused a command as larger than one entry may be (the
// built-in Raft's entry limit, etcd's request limit): the stores answer
// CT_CLUSTER_ENTRY_TOO_LARGE (dispatch does not import the cluster, so the
// code is matched here). Nothing of it was committed, and a smaller command may be.

export function isTooLarge(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'CT_CLUSTER_ENTRY_TOO_LARGE';
}

/**
 * Submit `items` in one command (`submit` builds and proposes it); one the
 * log refuses as too large goes again as two halves, and so on down to a
 * single item. `settled` hears how each part that was tried last ended
 * (committed with its result, or refused with the error); `maySplit` says
 * whether to try halves now (e.g. not after a step-down).
 */
export async function submitSplitting<T, R>(
  items: readonly T[],
  submit: (part: readonly T[]) => Promise<R>,
  settled: (part: readonly T[], outcome: { ok: true; result: R } | { ok: false; error: unknown }) => void,
  maySplit: () => boolean = () => true,
): Promise<void> {
  let result: R;
  try {
    result = await submit(items);
  } catch (error) {
    if (isTooLarge(error) && items.length > 1 && maySplit()) {
      const half = Math.ceil(items.length / 2);
      await Promise.all([submitSplitting(items.slice(0, half), submit, settled, maySplit), submitSplitting(items.slice(half), submit, settled, maySplit)]);
      return;
    }
    settled(items, { ok: false, error });
    return;
  }
  settled(items, { ok: true, result });
}
