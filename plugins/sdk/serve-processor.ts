// The plugin side: `serveProcessor(impl)` turns a Processor into a plugin
// program — the Processor service on top of what every plugin program does
// (serve-plugin.ts: magic cookie, health, unix socket, handshake, stop).
// A failing process() becomes a gRPC error whose details are its message.

import * as grpc from '@grpc/grpc-js';
import { pluginProto } from '../../proto/load-proto.js';
import type { ProcessRequest__Output } from '../../proto/generated/clocktower/plugin/v1/ProcessRequest.js';
import type { ProcessResponse } from '../../proto/generated/clocktower/plugin/v1/ProcessResponse.js';
import type { Processor } from './processor.js';
import { fromWire, toWire } from './processor-wire.js';
import { servePlugin } from './serve-plugin.js';

export async function serveProcessor(impl: Processor): Promise<void> {
  const running = new Set<AbortController>();
  const proto = pluginProto().clocktower.plugin.v1;
  await servePlugin({
    name: impl.name,
    serviceName: 'clocktower.plugin.v1.Processor',
    register(server) {
      server.addService(proto.Processor.service, {
        Process(call: grpc.ServerUnaryCall<ProcessRequest__Output, ProcessResponse>, callback: grpc.sendUnaryData<ProcessResponse>) {
          const { execution, config } = call.request;
          if (!execution) {
            callback({ code: grpc.status.INVALID_ARGUMENT, details: 'ProcessRequest has no execution' });
            return;
          }
          const abort = new AbortController();
          running.add(abort);
          // The host's deadline or its going away cancels the call.
          call.on('cancelled', () => abort.abort(new Error('cancelled by the host')));
          // (A processor that throws instead of rejecting is treated alike.)
          Promise.resolve().then(() => impl.process(fromWire(execution), config, abort.signal)).then(
            (processed) => callback(null, { execution: toWire(processed) }),
            (err: unknown) => callback({ code: grpc.status.UNKNOWN, details: err instanceof Error ? err.message : String(err) }),
          ).finally(() => running.delete(abort));
        },
      });
    },
    stopping() {
      for (const a of running) a.abort(new Error('the plugin is stopping'));
    },
    close: () => impl.close?.(),
  });
}
