#!/usr/bin/env node
// npm run package: builds `clocktower` as one executable file that needs no
// Node.js, with its bundled plugins inside (Node's single executable
// application support):
//
//   1. esbuild bundles bin/main.ts and everything it loads, plugins
//      included, into one CommonJS script;
//   2. the .proto files (and the gRPC reflection and health protos of the
//      libraries) are parsed into JSON and carried as assets with the
//      version, so nothing is read from beside the file at run time;
//   3. `node --experimental-sea-config` turns script and assets into a blob;
//   4. postject injects the blob into a copy of a node binary.
//
// Everything comes from node_modules: no network. Options:
//   --out FILE               where to write it (default build/clocktower)
//   CLOCKTOWER_NODE_BINARY   the node binary to copy (default: the node running
//                            this script). Give a linux-arm64 node binary of the
//                            same Node.js version to build for arm64 on x64
//                            (then without V8's code cache, which only the
//                            running node can use).
//   CLOCKTOWER_CODE_CACHE=0  no code cache (it saves about a quarter of the start).
//   CLOCKTOWER_STRIP=0       keep the binary's debug symbols (stripped if
//                            `strip` can, which makes the file much smaller).

import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const seaFuse = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function parseArgs(argv) {
  let out = join(root, 'build', 'clocktower');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1]) out = resolve(argv[++i]);
    else throw new Error(`usage: node scripts/package.mjs [--out FILE] (unknown argument ${argv[i]})`);
  }
  return { out };
}

/** A .proto file (with its imports under includeDirs) as protobufjs JSON, names kept as written. */
function protoJson(files, includeDirs = []) {
  const protobuf = createRequire(require.resolve('@grpc/proto-loader'))('protobufjs');
  const r = new protobuf.Root();
  r.resolvePath = (origin, target) => {
    for (const dir of includeDirs) {
      const p = join(dir, target);
      try {
        statSync(p);
        return p;
      } catch {
        // not in this include dir
      }
    }
    return protobuf.util.path.resolve(origin, target);
  };
  r.loadSync(files, { keepCase: true });
  r.resolveAll();
  return JSON.stringify(r.toJSON());
}

/** esbuild plugin: grpc-health-check loads its .proto from beside itself when imported; give it the parsed JSON instead. */
function healthProtoInline() {
  return {
    name: 'grpc-health-check-proto',
    setup(build) {
      build.onLoad({ filter: /grpc-health-check[\\/]build[\\/]src[\\/]health\.js$/ }, (args) => {
        const src = readFileSync(args.path, 'utf8');
        const call = "(0, proto_loader_1.loadSync)('health/v1/health.proto', {";
        if (!src.includes(call)) throw new Error(`${args.path} no longer loads its proto as expected: update scripts/package.mjs`);
        const json = protoJson([join(dirname(args.path), '..', '..', 'proto', 'health', 'v1', 'health.proto')]);
        return { contents: src.replace(call, `(0, proto_loader_1.fromJSON)(${json}, {`), loader: 'js' };
      });
    },
  };
}

async function main() {
  const { out } = parseArgs(process.argv.slice(2));
  const started = Date.now();
  mkdirSync(dirname(out), { recursive: true });
  const work = mkdtempSync(join(dirname(out), '.clocktower-package-'));
  try {
    const esbuild = await import('esbuild');
    const script = join(work, 'clocktower.cjs');
    const result = await esbuild.build({
      entryPoints: [join(root, 'bin', 'main.ts')],
      outfile: script,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      minify: true,
      keepNames: true,
      legalComments: 'none',
      // import.meta does not exist in CommonJS; the code that uses it asks
      // node:sea first and never reads beside the executable.
      define: { 'import.meta.url': '__clocktower_import_meta_url' },
      banner: { js: 'var __clocktower_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
      plugins: [healthProtoInline()],
      logLevel: 'warning',
    });
    if (result.errors.length > 0) throw new Error('esbuild failed');

    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const assets = { version: pkg.version };
    for (const name of ['agent', 'cluster', 'plugin', 'raft']) assets[`proto/${name}.proto.json`] = protoJson([join(root, 'proto', `${name}.proto`)]);
    const reflectionDir = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
    assets['grpc-reflection.json'] = protoJson(['grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'], [reflectionDir]);
    // The web UI: ui/src compiled by tsc (as npm run build does), plus ui/static.
    const uiOut = join(work, 'ui');
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'ui', 'tsconfig.json'), '--outDir', uiOut, '--incremental', 'false'], { encoding: 'utf8' });
    if (tsc.status !== 0) throw new Error(`tsc -p ui/tsconfig.json failed:\n${tsc.stdout}${tsc.stderr}`);
    const uiNames = [];
    for (const dir of [uiOut, join(root, 'ui', 'static')]) {
      for (const name of readdirSync(dir)) {
        if (!/^[\w-]+\.(html|js|css|svg|ico)$/.test(name)) continue;
        assets[`ui/${name}`] = readFileSync(join(dir, name), 'utf8');
        uiNames.push(name);
      }
    }
    if (!uiNames.includes('index.html') || !uiNames.includes('main.js')) throw new Error('the web UI was not built (no index.html or main.js)');
    assets['ui/files'] = JSON.stringify(uiNames);
    const assetFiles = {};
    for (const [key, text] of Object.entries(assets)) {
      const file = join(work, 'assets', key.replaceAll('/', '_'));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
      assetFiles[key] = file;
    }

    const nodeBinary = process.env.CLOCKTOWER_NODE_BINARY || process.execPath;
    // V8's code cache (faster start) is only valid for the node that made it.
    const useCodeCache = nodeBinary === process.execPath && process.env.CLOCKTOWER_CODE_CACHE !== '0';
    const blob = join(work, 'clocktower.blob');
    const config = join(work, 'sea-config.json');
    writeFileSync(config, JSON.stringify({ main: script, output: blob, disableExperimentalSEAWarning: true, useCodeCache, assets: assetFiles }));
    const prepared = spawnSync(process.execPath, ['--experimental-sea-config', config], { encoding: 'utf8' });
    if (prepared.status !== 0) throw new Error(`node --experimental-sea-config failed:\n${prepared.stderr}${prepared.stdout}`);

    const binary = join(work, 'clocktower');
    copyFileSync(nodeBinary, binary);
    chmodSync(binary, 0o755);
    if (process.env.CLOCKTOWER_STRIP !== '0') {
      const s = spawnSync('strip', ['--strip-all', binary], { encoding: 'utf8' });
      if (s.status !== 0) process.stderr.write(`package: not stripped (${s.error ? s.error.message : s.stderr.trim()}); the file is larger but works\n`);
    }
    // postject's own command, in a child: its ELF library chatters on stderr, shown only on failure.
    const injected = spawnSync(process.execPath, [join(dirname(require.resolve('postject')), 'cli.js'), binary, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', seaFuse], { encoding: 'utf8' });
    if (injected.status !== 0) throw new Error(`postject failed (${injected.status ?? injected.signal}):\n${injected.stderr}${injected.stdout}`);
    rmSync(out, { force: true });
    copyFileSync(binary, out);
    chmodSync(out, 0o755);
    const size = statSync(out).size;
    process.stdout.write(`${JSON.stringify({ file: out, bytes: size, script_bytes: statSync(script).size, node: nodeBinary, code_cache: useCodeCache, seconds: (Date.now() - started) / 1000 })}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`package: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
