// Loads the .proto files at run time (with @grpc/proto-loader) and types
// them with the generated declarations in proto/generated. The single
// executable (npm run package) has no files beside it: it carries each
// .proto, parsed at build time, as its asset `proto/NAME.json`.

import { existsSync } from 'node:fs';
import { getAsset, isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as AgentProto } from './generated/agent.js';
import type { ProtoGrpcType as ClusterProto } from './generated/cluster.js';
import type { ProtoGrpcType as PluginProto } from './generated/plugin.js';
import type { ProtoGrpcType as RaftProto } from './generated/raft.js';

/** Same options as proto-loader-gen-types was run with (scripts/gen-proto.mjs). */
const loaderOptions: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** The .proto file's path, from the sources (proto/) or from the build (dist/proto/). */
function protoPath(name: string): string {
  for (const rel of [`./${name}`, `../../proto/${name}`]) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`cannot find proto/${name} next to ${fileURLToPath(import.meta.url)}`);
}

/** The package definition of proto/NAME: from the executable's assets, or from the file. */
function load(name: string): grpc.GrpcObject {
  const def = isSea()
    ? protoLoader.fromJSON(JSON.parse(getAsset(`proto/${name}.json`, 'utf8')) as Parameters<typeof protoLoader.fromJSON>[0], loaderOptions)
    : protoLoader.loadSync(protoPath(name), loaderOptions);
  return grpc.loadPackageDefinition(def);
}

let plugin: PluginProto | null = null;

export function pluginProto(): PluginProto {
  plugin ??= load('plugin.proto') as unknown as PluginProto;
  return plugin;
}

let raft: RaftProto | null = null;

export function raftProto(): RaftProto {
  raft ??= load('raft.proto') as unknown as RaftProto;
  return raft;
}

let cluster: ClusterProto | null = null;

export function clusterProto(): ClusterProto {
  cluster ??= load('cluster.proto') as unknown as ClusterProto;
  return cluster;
}

let agent: AgentProto | null = null;

export function agentProto(): AgentProto {
  agent ??= load('agent.proto') as unknown as AgentProto;
  return agent;
}
