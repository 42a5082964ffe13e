// The web UI's static files at /ui/ (and redirects from / and /ui). The UI
// is plain ES modules compiled from ui/src by tsc (into dist/ui) plus the
// hand-written files in ui/static; it talks to the REST API like any client.
// The single executable carries the same files as its `ui/NAME` assets.
//
// Every answer has a strict Content-Security-Policy: the UI loads nothing
// but its own files and talks to nothing but this API.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { getAsset, isSea } from 'node:sea';
import { gzipSync } from 'node:zlib';
import { ApiError } from '../api-error.js';
import type { Reply, Route } from './route.js';

interface UiFile {
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly type: string;
  readonly etag: string;
}

const types: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  ico: 'image/x-icon',
};

export const uiSecurityHeaders: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function isUiPath(path: string): boolean {
  return path === '/' || path === '/ui' || path.startsWith('/ui/');
}

let files: Map<string, UiFile> | null = null;

function entry(name: string, body: Buffer): [string, UiFile] {
  const ext = name.slice(name.lastIndexOf('.') + 1);
  return [name, { body, gzip: gzipSync(body, { level: 9 }), type: types[ext] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }];
}

/** The UI's files by name: from the executable's assets, or from dist/ui and ui/static. */
function uiFiles(): Map<string, UiFile> {
  if (files) return files;
  const found = new Map<string, UiFile>();
  if (isSea()) {
    for (const name of JSON.parse(getAsset('ui/files', 'utf8')) as string[]) found.set(...entry(name, Buffer.from(getAsset(`ui/${name}`))));
  } else {
    // dist/server/api/routes/ -> dist/ui (compiled) and <package>/ui/static (hand-written)
    for (const dir of [new URL('../../../ui/', import.meta.url), new URL('../../../../ui/static/', import.meta.url)]) {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) if (/^[\w-]+\.(html|js|css|svg|ico)$/.test(name)) found.set(...entry(name, readFileSync(new URL(name, dir))));
    }
  }
  files = found;
  return found;
}

function redirect(): Reply {
  return { status: 302, body: '', contentType: 'text/plain; charset=utf-8', headers: { location: '/ui/' } };
}

function serve(name: string, acceptEncoding: string | string[] | undefined, ifNoneMatch: string | string[] | undefined): Reply {
  const f = uiFiles().get(name);
  if (!f) {
    if (!uiFiles().has('index.html')) throw new ApiError('CT_API_NOT_FOUND', 'the web UI is not built: run npm run build');
    throw new ApiError('CT_API_NOT_FOUND', `no such UI file: ${name}`);
  }
  const headers: Record<string, string> = { ...uiSecurityHeaders, 'cache-control': 'no-cache', etag: f.etag, vary: 'accept-encoding' };
  if (ifNoneMatch === f.etag) return { status: 304, body: '', contentType: f.type, headers };
  const gzip = String(acceptEncoding ?? '').includes('gzip');
  if (gzip) headers['content-encoding'] = 'gzip';
  return { status: 200, body: gzip ? f.gzip : f.body, contentType: f.type, headers };
}

export const uiRoutes: Route[] = [
  { method: 'GET', pattern: /^\/$/, local: true, handle: redirect },
  { method: 'GET', pattern: /^\/ui$/, local: true, handle: (req) => (req.url.pathname === '/ui/' ? serve('index.html', req.headers['accept-encoding'], req.headers['if-none-match']) : redirect()) },
  {
    method: 'GET',
    pattern: /^\/ui\/(?<file>[^/]+)$/,
    local: true,
    handle: (req) => serve(req.params['file'] ?? '', req.headers['accept-encoding'], req.headers['if-none-match']),
  },
];
