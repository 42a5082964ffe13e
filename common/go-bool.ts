// Go's strconv.ParseBool, which Dkron uses for boolean executor config
// values: 1, t, T, TRUE, true, True and their false counterparts.

const trueWords = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const falseWords = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Is `text` one of Go's true words? (Anything else, empty or not, is false.) */
export function isGoTrue(text: string | undefined): boolean {
  return trueWords.has((text ?? '').trim());
}

/** The value of `text` as a boolean; `fallback` when it is empty or missing. Throws an Error saying what is wrong. */
export function parseGoBool(key: string, text: string | undefined, fallback = false): boolean {
  const s = (text ?? '').trim();
  if (s === '') return fallback;
  if (trueWords.has(s)) return true;
  if (falseWords.has(s)) return false;
  throw new Error(`${key} must be true or false, not "${text}"`);
}
