// Generates TypeScript types for proto/*.proto with proto-loader-gen-types
// (pure JS). With --check, generates into a temporary folder and fails if
// proto/generated differs, so stale types cannot be committed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const check = process.argv.includes('--check');
const protos = readdirSync('proto').filter((f) => f.endsWith('.proto')).map((f) => join('proto', f));
const out = check ? mkdtempSync(join(tmpdir(), 'ct-proto-')) : process.argv[2] ?? 'proto/generated';

execFileSync(
  process.execPath,
  ['node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js',
    '--keepCase', '--longs=String', '--enums=String', '--defaults', '--oneofs', '--grpcLib=@grpc/grpc-js',
    '--importFileExtension=.js', '--outDir', out, ...protos],
  { stdio: 'inherit' },
);

function files(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

if (check) {
  const fresh = files(out).map((f) => relative(out, f)).sort();
  let committed = [];
  try { committed = files('proto/generated').map((f) => relative('proto/generated', f)).sort(); } catch { /* none yet */ }
  const stale = [...new Set([...fresh, ...committed])].filter((f) => {
    try { return readFileSync(join(out, f), 'utf8') !== readFileSync(join('proto/generated', f), 'utf8'); } catch { return true; }
  });
  rmSync(out, { recursive: true, force: true });
  if (stale.length > 0) {
    console.error(`proto/generated is stale (${stale.join(', ')}): run npm run proto:gen`);
    process.exit(1);
  }
  console.log('proto/generated is fresh');
}
