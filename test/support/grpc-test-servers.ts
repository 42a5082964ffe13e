// Real grpc-js servers for the grpc executor's tests and benchmark, serving
// test/plugins/fixtures/grpc/echo.proto (service test.Echo):
// - Say echoes the request (text repeated repeat_count times, the nested
//   message, tags, mood, bytes, well-known types) and the request's x-*
//   metadata;
// - Fail answers with the status code and message asked for;
// - Slow answers after delay_ms, or stops when the call is cancelled.
// startEchoServer({ reflection: true }) also serves gRPC server reflection
// (v1 and v1alpha, @grpc/reflection), { reflection: 'v1alpha' } only the older
// v1alpha (as older servers do); without it the client needs the .proto.
// { tls: true } serves TLS with test/plugins/fixtures/tls/server.{crt,key}.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';

export const echoProtoPath = resolve('test/plugins/fixtures/grpc/echo.proto');

export interface EchoServer {
  /** 127.0.0.1:PORT */
  readonly address: string;
  /** Calls served so far, by method name. */
  readonly calls: Map<string, number>;
  close(): Promise<void>;
}

export interface EchoServerOptions {
  readonly reflection?: boolean | 'v1alpha';
  readonly tls?: boolean;
}

type Json = Record<string, unknown>;

export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  // keepCase as protoc keeps it, so reflection serves snake_case field names like a Go or Java server.
  const definition = protoLoader.loadSync(echoProtoPath, { keepCase: true, longs: String, enums: String, defaults: false });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { test: { Echo: grpc.ServiceClientConstructor } };
  const server = new grpc.Server();
  const calls = new Map<string, number>();
  const count = (method: string) => calls.set(method, (calls.get(method) ?? 0) + 1);
  server.addService(loaded.test.Echo.service, {
    Say(call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) {
      count('Say');
      const r = call.request;
      const metadata: Record<string, string> = {};
      for (const [key, value] of Object.entries(call.metadata.getMap())) {
        if (key.startsWith('x-')) metadata[key] = String(value);
      }
      const times = Math.max(1, Number(r['repeat_count'] ?? 1));
      callback(null, { text: String(r['text'] ?? '').repeat(times), metadata, inner: r['inner'], tags: r['tags'], mood: r['mood'], blob: r['blob'], at: r['at'], wait: r['wait'], label: r['label'] });
    },
    Fail(call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) {
      count('Fail');
      callback({ code: Number(call.request['code'] ?? grpc.status.INTERNAL), details: String(call.request['message'] ?? 'failed as asked') });
    },
    Slow(call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) {
      count('Slow');
      const timer = setTimeout(() => callback(null, { text: 'slow reply' }), Number(call.request['delay_ms'] ?? 0));
      call.on('cancelled', () => clearTimeout(timer));
    },
  });
  if (options.reflection === 'v1alpha') {
    new ReflectionService(definition).addToServer({
      addService: (service, implementation) => {
        if (Object.values(service)[0]?.path.startsWith('/grpc.reflection.v1alpha.')) server.addService(service, implementation);
      },
    });
  } else if (options.reflection) new ReflectionService(definition).addToServer(server);
  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(null, [{
      private_key: readFileSync(resolve('test/plugins/fixtures/tls/server.key')),
      cert_chain: readFileSync(resolve('test/plugins/fixtures/tls/server.crt')),
    }])
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((ok, fail) => server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? fail(err) : ok(p))));
  return {
    address: `127.0.0.1:${port}`,
    calls,
    close: () => new Promise<void>((done) => {
      server.forceShutdown();
      done();
    }),
  };
}
