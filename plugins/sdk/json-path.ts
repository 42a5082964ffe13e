// A value in a JSON message by dot path, for executors that wait for a
// message whose key matches (the broker sensors of workflows).

/** The value at a dot path of a JSON document, as text (undefined: not there, or not JSON). */
export function valueAt(data: Uint8Array, path: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return undefined;
  }
  for (const part of path === '' ? [] : path.split('.')) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return v === null ? 'null' : JSON.stringify(v);
}
