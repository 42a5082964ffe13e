// What every plugin program does, whatever it serves: check the magic
// cookie, serve its gRPC services and gRPC health on a private unix socket,
// print the handshake line, and stop on SIGTERM / SIGINT or when the host
// goes away (stdin closes). serveExecutor() and serveProcessor() add their
// service on top.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { appProtocolVersion, coreProtocolVersion, formatHandshake, magicCookieKey, magicCookieValue, notLaunchedByHost } from './handshake.js';

export interface PluginProgram {
  /** The plugin's name, for the message shown when it is started by hand. */
  readonly name: string;
  /** The fully qualified gRPC service name, reported SERVING by the health service. */
  readonly serviceName: string;
  /** Adds the plugin's service to the server. */
  register(server: grpc.Server): void;
  /** Called first when stopping (e.g. to abort what is running). */
  stopping?(): void;
  /** Called last, after the server has shut down. */
  close?(): Promise<void> | void;
}

export async function servePlugin(program: PluginProgram): Promise<void> {
  if (process.env[magicCookieKey] !== magicCookieValue) {
    process.stderr.write(notLaunchedByHost(basename(process.argv[1] ?? program.name)));
    process.exit(1);
  }
  // A processor receives a whole execution's output in one message.
  const server = new grpc.Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  program.register(server);
  const health = new HealthImplementation({ '': 'SERVING', [program.serviceName]: 'SERVING' });
  health.addToServer(server);

  const dir = mkdtempSync(join(tmpdir(), 'ct-plugin-'));
  const socket = join(dir, 'plugin.sock');
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  });
  const stop = () => {
    program.stopping?.();
    server.tryShutdown(() => {
      rmSync(dir, { recursive: true, force: true });
      void Promise.resolve(program.close?.()).finally(() => process.exit(0));
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The host holds our stdin open; when it dies, stdin ends and so do we.
  process.stdin.on('end', stop).resume();
  process.stdout.write(`${formatHandshake({ coreVersion: coreProtocolVersion, appVersion: appProtocolVersion, network: 'unix', address: socket })}\n`);
}
