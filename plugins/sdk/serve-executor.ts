// The plugin side: `serveExecutor(impl)` turns an Executor into a plugin
// program — it checks the magic cookie, serves the Executor service and gRPC
// health on a private unix socket, prints the handshake line, and stops on
// SIGTERM or when the host goes away (stdin closes).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { pluginProto } from '../../proto/load-proto.js';
import type { ExecuteEvent } from '../../proto/generated/clocktower/plugin/v1/ExecuteEvent.js';
import type { ExecuteRequest__Output } from '../../proto/generated/clocktower/plugin/v1/ExecuteRequest.js';
import type { StopRequest__Output } from '../../proto/generated/clocktower/plugin/v1/StopRequest.js';
import type { StopResponse } from '../../proto/generated/clocktower/plugin/v1/StopResponse.js';
import type { Executor } from './executor.js';
import { appProtocolVersion, coreProtocolVersion, formatHandshake, magicCookieKey, magicCookieValue, notLaunchedByHost } from './handshake.js';

/** Output is sent in chunks of at most this many bytes (gRPC flow control does the rest). */
const maxChunk = 64 * 1024;

export async function serveExecutor(impl: Executor): Promise<void> {
  if (process.env[magicCookieKey] !== magicCookieValue) {
    process.stderr.write(notLaunchedByHost(basename(process.argv[1] ?? impl.name)));
    process.exit(1);
  }
  const running = new Map<string, AbortController>();
  const server = new grpc.Server();
  const proto = pluginProto().clocktower.plugin.v1;
  server.addService(proto.Executor.service, {
    Execute(call: grpc.ServerWritableStream<ExecuteRequest__Output, ExecuteEvent>) {
      const r = call.request;
      const abort = new AbortController();
      running.set(r.execution_id, abort);
      call.on('cancelled', () => abort.abort());
      const output = {
        write(chunk: Uint8Array) {
          for (let i = 0; i < chunk.length; i += maxChunk) call.write({ output: { data: Buffer.from(chunk.subarray(i, i + maxChunk)) } });
        },
      };
      impl.execute({
        jobName: r.job_name, config: r.config, executionId: r.execution_id, scheduledAtMs: Number(r.scheduled_at_ms), attempt: r.attempt,
      }, output, abort.signal)
        .catch((err: unknown) => ({ success: false, exitCode: -1, error: `executor failed: ${err instanceof Error ? err.message : String(err)}` }))
        .then((result) => {
          running.delete(r.execution_id);
          if (call.cancelled) return;
          call.write({ result: { success: result.success, exit_code: result.exitCode, error: result.error } });
          call.end();
        });
    },
    Stop(call: grpc.ServerUnaryCall<StopRequest__Output, StopResponse>, callback: grpc.sendUnaryData<StopResponse>) {
      const abort = running.get(call.request.execution_id);
      abort?.abort();
      callback(null, { found: abort !== undefined });
    },
  });
  const health = new HealthImplementation({ '': 'SERVING', 'clocktower.plugin.v1.Executor': 'SERVING' });
  health.addToServer(server);

  const dir = mkdtempSync(join(tmpdir(), 'ct-plugin-'));
  const socket = join(dir, 'plugin.sock');
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  });
  const stop = () => {
    for (const a of running.values()) a.abort();
    server.tryShutdown(() => {
      rmSync(dir, { recursive: true, force: true });
      void Promise.resolve(impl.close?.()).finally(() => process.exit(0));
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The host holds our stdin open; when it dies, stdin ends and so do we.
  process.stdin.on('end', stop).resume();
  process.stdout.write(`${formatHandshake({ coreVersion: coreProtocolVersion, appVersion: appProtocolVersion, network: 'unix', address: socket })}\n`);
}
