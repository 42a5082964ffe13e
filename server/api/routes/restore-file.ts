// POST /v1/restore: a Dkron export (the JSON array GET /v1/jobs returns),
// sent as the multipart field `file` as Dkron takes it, or as a plain JSON body.

import type { JobSpec } from '../../state/job.js';
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

/** Parents before children; every parent must be in the file or already stored. */
export function orderForRestore(specs: JobSpec[], stored: (name: string) => boolean): JobSpec[] {
  const byName = new Map<string, JobSpec>();
  for (const s of specs) {
    if (byName.has(s.name)) throw new ApiError('CT_API_BAD_RESTORE', `job ${s.name} appears twice in the file`);
    byName.set(s.name, s);
  }
  const out: JobSpec[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (s: JobSpec): void => {
    const mark = state.get(s.name);
    if (mark === 'done') return;
    if (mark === 'visiting') throw new ApiError('CT_API_BAD_RESTORE', `jobs ${s.name} and its parents form a cycle`);
    state.set(s.name, 'visiting');
    if (s.parentJob !== '') {
      const parent = byName.get(s.parentJob);
      if (parent) visit(parent);
      else if (!stored(s.parentJob)) {
        throw new ApiError('CT_API_BAD_RESTORE', `job ${s.name} names parent ${s.parentJob}, which is neither in the file nor stored`, 'parent_job');
      }
    }
    state.set(s.name, 'done');
    out.push(s);
  };
  for (const s of specs) visit(s);
  return out;
}
