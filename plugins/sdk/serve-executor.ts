// The plugin side: `serveExecutor(impl)` turns an Executor into a plugin
// program — the Executor service on top of what every plugin program does
// (serve-plugin.ts: magic cookie, health, unix socket, handshake, stop).

import type * as grpc from '@grpc/grpc-js';
import { pluginProto } from '../../proto/load-proto.js';
import type { ExecuteEvent } from '../../proto/generated/clocktower/plugin/v1/ExecuteEvent.js';
import type { ExecuteRequest__Output } from '../../proto/generated/clocktower/plugin/v1/ExecuteRequest.js';
import type { StopRequest__Output } from '../../proto/generated/clocktower/plugin/v1/StopRequest.js';
import type { StopResponse } from '../../proto/generated/clocktower/plugin/v1/StopResponse.js';
import type { DescribeResponse } from '../../proto/generated/clocktower/plugin/v1/DescribeResponse.js';
import type { ValidateRequest__Output } from '../../proto/generated/clocktower/plugin/v1/ValidateRequest.js';
import type { ValidateResponse } from '../../proto/generated/clocktower/plugin/v1/ValidateResponse.js';
import type { Executor } from './executor.js';
import { servePlugin } from './serve-plugin.js';

/** Output is sent in chunks of at most this many bytes (gRPC flow control does the rest). */
const maxChunk = 64 * 1024;

export async function serveExecutor(impl: Executor): Promise<void> {
  const running = new Map<string, AbortController>();
  const proto = pluginProto().clocktower.plugin.v1;
  await servePlugin({
    name: impl.name,
    serviceName: 'clocktower.plugin.v1.Executor',
    register(server) {
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
            // An older server sends no params: none.
            ...(Object.keys(r.params ?? {}).length > 0 ? { params: r.params } : {}),
          }, output, abort.signal)
            .catch((err: unknown) => ({ success: false, exitCode: -1, error: `executor failed: ${err instanceof Error ? err.message : String(err)}` }))
            .then((result) => {
              running.delete(r.execution_id);
              if (call.cancelled) return;
              call.write({ result: { success: result.success, exit_code: result.exitCode, error: result.error, params_out: { ...('paramsOut' in result ? result.paramsOut : {}) } } });
              call.end();
            });
        },
        Stop(call: grpc.ServerUnaryCall<StopRequest__Output, StopResponse>, callback: grpc.sendUnaryData<StopResponse>) {
          const abort = running.get(call.request.execution_id);
          abort?.abort();
          callback(null, { found: abort !== undefined });
        },
        Validate(call: grpc.ServerUnaryCall<ValidateRequest__Output, ValidateResponse>, callback: grpc.sendUnaryData<ValidateResponse>) {
          Promise.resolve()
            .then(() => impl.validate?.(call.request.config))
            .then(
              (error) => callback(null, { error: error ?? '' }),
              (err: unknown) => callback(null, { error: `the executor's config check failed: ${err instanceof Error ? err.message : String(err)}` }),
            );
        },
        Describe(_call: unknown, callback: grpc.sendUnaryData<DescribeResponse>) {
          callback(null, { secret_keys: [...(impl.secretKeys ?? [])] });
        },
      });
    },
    stopping() {
      for (const a of running.values()) a.abort();
    },
    close: () => impl.close?.(),
  });
}
