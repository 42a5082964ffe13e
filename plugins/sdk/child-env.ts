// The environment a child of this process starts with: this process's own,
// minus what belongs to Clocktower itself. Removed are every CLOCKTOWER_*
// variable (the server's settings, CLOCKTOWER_API_TOKEN, the plugin magic
// cookie) and any variable whose value is a secret this process was given
// (hideFromChildren: the API token however it came in). Jobs get these back
// only by naming them in their own `env`.

const hidden = new Set<string>();

/** A secret this process holds (a token): no child sees a variable with this value. */
export function hideFromChildren(value: string): void {
  if (value !== '') hidden.add(value);
}

/**
 * `env` without Clocktower's variables; `keep` names CLOCKTOWER_* variables a
 * plugin program needs (CLOCKTOWER_NODE, the magic cookie), never a secret.
 */
export function childEnv(env: Readonly<Record<string, string | undefined>>, keep: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (name.startsWith('CLOCKTOWER_') && !keep.includes(name)) continue;
    if (hidden.has(value)) continue;
    out[name] = value;
  }
  return out;
}
