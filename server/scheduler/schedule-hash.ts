// Dkron's `~` hash: in a cron field, `~` becomes a value derived from the job
// name (the sum of its code points), so jobs with the same pattern spread out.

/** Per field of the 6-field form (sec min hour dom month dow): value = f(sum). */
const reducers: readonly ((sum: number) => number)[] = [
  (s) => s % 60,
  (s) => s % 60,
  (s) => s % 24,
  (s) => (s % 28) + 1,
  (s) => (s % 12) + 1,
  (s) => s % 7,
];

export function nameSum(name: string): number {
  let sum = 0;
  for (const ch of name) sum += ch.codePointAt(0) ?? 0;
  return sum;
}

/** Replace `~` in each of the six fields. */
export function hashFields(fields: readonly string[], jobName: string): string[] {
  const sum = nameSum(jobName);
  return fields.map((f, i) => (f.includes('~') ? f.replaceAll('~', String(reducers[i]?.(sum) ?? 0)) : f));
}
