// POST /v1/restore: a Dkron export (the JSON array GET /v1/jobs returns),
// sent as the multipart field `file` as Dkron takes it, or as a plain JSON body.

import { edgesOf, type JobSpec } from '../../state/job.js';
import { ApiError } from '../api-error.js';
import { parseJson, type RouteRequest } from './route.js';

export async function readRestoreFile(req: RouteRequest): Promise<unknown[]> {
  const type = req.headers['content-type'] ?? '';
  let text: Buffer;
  if (type.startsWith('multipart/form-data')) {
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(req.body), { headers: { 'content-type': type } }).formData();
    } catch (err) {
      throw new ApiError('CT_API_BAD_RESTORE', `malformed multipart body: ${err instanceof Error ? err.message : String(err)}`);
    }
    const file = form.get('file');
    if (file === null) throw new ApiError('CT_API_BAD_RESTORE', 'the multipart body has no "file" field', 'file');
    text = typeof file === 'string' ? Buffer.from(file) : Buffer.from(new Uint8Array(await file.arrayBuffer()));
  } else {
    text = req.body;
  }
  const value = parseJson(text);
  if (!Array.isArray(value)) throw new ApiError('CT_API_BAD_RESTORE', 'the restore file must hold a JSON array of jobs');
  return value;
}

/**
 * Upstreams (parents) before downstreams (children). A job whose parent is neither in the file nor
 * stored, a second job of the same name, and the jobs of a cycle are refused
 * (each with its reason); the rest are kept.
 */
export function orderForRestore(
  specs: JobSpec[],
  stored: (name: string) => boolean,
): { ordered: JobSpec[]; refused: { name: string; reason: string }[] } {
  const byName = new Map<string, JobSpec>();
  const refused: { name: string; reason: string }[] = [];
  for (const s of specs) {
    if (byName.has(s.name)) refused.push({ name: s.name, reason: 'appears twice in the file; the first one is kept' });
    else byName.set(s.name, s);
  }
  const ordered: JobSpec[] = [];
  const state = new Map<string, 'visiting' | 'done' | 'refused'>();
  const visit = (s: JobSpec): boolean => {
    const mark = state.get(s.name);
    if (mark === 'done') return true;
    if (mark === 'refused') return false;
    if (mark === 'visiting') return false;
    state.set(s.name, 'visiting');
    let reason: string | null = null;
    for (const up of edgesOf(s).map((e) => e.job)) {
      const word = up === s.parentJob ? 'parent' : 'upstream';
      const parent = byName.get(up);
      if (parent) {
        if (state.get(parent.name) === 'visiting') reason = word === 'parent' ? `it and its parents form a cycle` : `it and its upstreams form a cycle (through ${up})`;
        else if (!visit(parent)) reason = `its ${word} ${up} was not restored`;
      } else if (!stored(up)) {
        reason = word === 'parent'
          ? `specified parent job not found: ${up} is neither in the file nor stored`
          : `unknown upstream job ${up}: it is neither in the file nor stored`;
      }
      if (reason !== null) break;
    }
    if (reason !== null) {
      state.set(s.name, 'refused');
      refused.push({ name: s.name, reason });
      return false;
    }
    state.set(s.name, 'done');
    ordered.push(s);
    return true;
  };
  for (const s of byName.values()) visit(s);
  return { ordered, refused };
}
