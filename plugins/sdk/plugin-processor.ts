// The host side of a processor plugin: a Processor that hands each finished
// execution to a separate plugin program over gRPC (started, handshaken,
// health-checked and restarted by PluginProcess). If the program dies, the
// executions it was processing fail with a message saying so and the next
// one starts it again.

import * as grpc from '@grpc/grpc-js';
import { pluginProto } from '../../proto/load-proto.js';
import type { ProcessorClient } from '../../proto/generated/clocktower/plugin/v1/Processor.js';
import type { ExecutionRecord, Processor } from './processor.js';
import { fromWire, toWire } from './processor-wire.js';
import { PluginError, PluginProcess, type PluginOptions } from './plugin-process.js';

export class PluginProcessor implements Processor {
  private readonly plugin: PluginProcess<ProcessorClient>;

  constructor(
    readonly name: string,
    program: string,
    options: PluginOptions = {},
  ) {
    const proto = pluginProto().clocktower.plugin.v1;
    this.plugin = new PluginProcess(name, program, (target) => new proto.Processor(target, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1,
    }) as unknown as ProcessorClient, options);
  }

  /** Start the program now (otherwise the first execution starts it). */
  async start(): Promise<void> {
    await this.plugin.ensure();
  }

  async process(execution: ExecutionRecord, config: Readonly<Record<string, string>>, signal: AbortSignal): Promise<ExecutionRecord> {
    const p = await this.plugin.ensure();
    signal.throwIfAborted();
    return new Promise<ExecutionRecord>((resolve, reject) => {
      const call = p.client.Process({ execution: toWire(execution), config: { ...config } }, (err, res) => {
        signal.removeEventListener('abort', onAbort);
        if (!err) {
          if (res?.execution) resolve(fromWire(res.execution));
          else reject(new PluginError(`plugin ${this.name} answered without an execution`));
          return;
        }
        if (signal.aborted) {
          reject(signal.reason instanceof Error ? signal.reason : new PluginError(`plugin ${this.name}: cancelled`));
          return;
        }
        if (err.code === grpc.status.UNKNOWN) {
          // The processor's own error, as it worded it.
          reject(new PluginError(err.details));
          return;
        }
        void this.plugin.deathOf(p).then((how) => {
          reject(new PluginError(how ? `plugin ${this.name} ${how} while processing this execution` : `plugin ${this.name} failed: ${err.details || err.message}`));
        });
      });
      const onAbort = () => call.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): Promise<void> {
    return this.plugin.close();
  }
}
