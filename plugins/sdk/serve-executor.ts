// The plugin side: `serveExecutor(impl)` turns an Executor into a plugin
// program — the Executor service on top of what every plugin program does
// (serve-plugin.ts: magic cookie, health, unix socket, handshake, stop).
// It serves both ways of running executions: Session, one long-lived
// stream for all of them (serve-session.ts; what this host uses), and
// Execute / Stop, a call per execution (what older hosts use).

import type * as grpc from '@grpc/grpc-js';
import { pluginProto } from '../../proto/load-proto.js';
import type { ExecuteEvent } from '../../proto/generated/clocktower/plugin/v1/ExecuteEvent.js';
import type { ExecuteRequest__Output } from '../../proto/generated/clocktower/plugin/v1/ExecuteRequest.js';
import type { SessionEvent } from '../../proto/generated/clocktower/plugin/v1/SessionEvent.js';
import type { SessionRequest__Output } from '../../proto/generated/clocktower/plugin/v1/SessionRequest.js';
import type { StopRequest__Output } from '../../proto/generated/clocktower/plugin/v1/StopRequest.js';
import type { StopResponse } from '../../proto/generated/clocktower/plugin/v1/StopResponse.js';
import type { DescribeResponse } from '../../proto/generated/clocktower/plugin/v1/DescribeResponse.js';
import type { ValidateRequest__Output } from '../../proto/generated/clocktower/plugin/v1/ValidateRequest.js';
import type { ValidateResponse } from '../../proto/generated/clocktower/plugin/v1/ValidateResponse.js';
import { ExecErrorCode, failure, type ExecuteResult, type Executor, type OutputSink } from './executor.js';
import { fromWireRequest, toWireResult } from './plugin-wire.js';
import { servePlugin } from './serve-plugin.js';
import { PluginSession } from './serve-session.js';
import { outputChunks } from './session-limits.js';

export async function serveExecutor(impl: Executor): Promise<void> {
  /** What runs through Execute, by execution id (for Stop). */
  const running = new Map<string, AbortController>();
  const sessions = new Set<PluginSession>();
  const proto = pluginProto().clocktower.plugin.v1;
  const start = (r: ExecuteRequest__Output, output: OutputSink, abort: AbortController): Promise<ExecuteResult> => impl.execute(fromWireRequest(r), output, abort.signal)
    .catch((err: unknown) => failure(`executor failed: ${err instanceof Error ? err.message : String(err)}`));
  await servePlugin({
    name: impl.name,
    serviceName: 'clocktower.plugin.v1.Executor',
    register(server) {
      server.addService(proto.Executor.service, {
        Session(call: grpc.ServerDuplexStream<SessionRequest__Output, SessionEvent>) {
          const session = new PluginSession(call, start);
          sessions.add(session);
          const forget = () => sessions.delete(session);
          call.on('cancelled', forget);
          call.on('error', forget);
          call.on('finish', forget);
        },
        Execute(call: grpc.ServerWritableStream<ExecuteRequest__Output, ExecuteEvent>) {
          const r = call.request;
          const abort = new AbortController();
          running.set(r.execution_id, abort);
          call.on('cancelled', () => abort.abort());
          const output = {
            write(chunk: Uint8Array) {
              for (const data of outputChunks(chunk)) call.write({ output: { data } });
            },
          };
          void start(r, output, abort).then((result) => {
            running.delete(r.execution_id);
            if (call.cancelled) return;
            call.write({ result: toWireResult(result) });
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
              (error) => callback(null, error ? { error, error_code: ExecErrorCode.ConfigInvalid } : { error: '' }),
              (err: unknown) => callback(null, { error: `the executor's config check failed: ${err instanceof Error ? err.message : String(err)}`, error_code: ExecErrorCode.ConfigInvalid }),
            );
        },
        Describe(_call: unknown, callback: grpc.sendUnaryData<DescribeResponse>) {
          callback(null, { secret_keys: [...(impl.secretKeys ?? [])] });
        },
      });
    },
    stopping() {
      for (const a of running.values()) a.abort();
      for (const s of sessions) s.drainAndEnd();
    },
    close: () => impl.close?.(),
  });
}
