// Items cut into consecutive runs of bounded size: messages, commands and
// request bodies that must stay under a byte cap.

/**
 * `items` in order, cut into runs whose sizes (by `sizeOf`) add up to at most
 * `maxSize`; an item larger than that goes alone, so every run holds at least one.
 */
export function chunksOf<T>(items: readonly T[], sizeOf: (item: T) => number, maxSize: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const n = sizeOf(item);
    if (current.length > 0 && size + n > maxSize) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
