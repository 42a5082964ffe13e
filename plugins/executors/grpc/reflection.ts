// A gRPC server reflection client: asks the server for the file that
// declares a service and the files it imports (grpc.reflection.v1, falling
// back to v1alpha as grpcurl does), and turns the descriptors into a
// proto-loader package definition the executor can call through.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { getAsset, isSea } from 'node:sea';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export class NoReflectionError extends Error {}
export class UnknownServiceError extends Error {}

interface ReflectionResponse {
  file_descriptor_response?: { file_descriptor_proto: Buffer[] } | null;
  list_services_response?: { service: { name: string }[] } | null;
  error_response?: { error_code: number; error_message: string } | null;
}

type ReflectionStub = grpc.Client & {
  ServerReflectionInfo(metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientDuplexStream<Record<string, string>, ReflectionResponse>;
};

let reflectionClients: Record<'v1' | 'v1alpha', grpc.ServiceClientConstructor> | undefined;

/**
 * The reflection service stubs, from the .proto files that ship with
 * @grpc/reflection (the single executable carries them, parsed at build
 * time, as its asset `grpc-reflection.json`).
 */
function clients(): Record<'v1' | 'v1alpha', grpc.ServiceClientConstructor> {
  if (reflectionClients) return reflectionClients;
  const options: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true };
  let def: protoLoader.PackageDefinition;
  if (isSea()) {
    def = protoLoader.fromJSON(JSON.parse(getAsset('grpc-reflection.json', 'utf8')) as Parameters<typeof protoLoader.fromJSON>[0], options);
  } else {
    const dir = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection/package.json')), 'build', 'proto');
    def = protoLoader.loadSync(['grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'], { ...options, includeDirs: [dir] });
  }
  const loaded = grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: Record<'v1' | 'v1alpha', { ServerReflection: grpc.ServiceClientConstructor }> } };
  reflectionClients = { v1: loaded.grpc.reflection.v1.ServerReflection, v1alpha: loaded.grpc.reflection.v1alpha.ServerReflection };
  return reflectionClients;
}

/** The name (field 1) and imports (field 3) of an encoded FileDescriptorProto. */
export function fileNameAndImports(encoded: Buffer): { name: string; imports: string[] } {
  let name = '';
  const imports: string[] = [];
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = encoded[i++];
      if (b === undefined) throw new Error('truncated file descriptor');
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  while (i < encoded.length) {
    const key = varint();
    const wire = key & 7;
    const field = Math.floor(key / 8);
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = varint();
      if (field === 1) name = encoded.toString('utf8', i, i + len);
      if (field === 3) imports.push(encoded.toString('utf8', i, i + len));
      i += len;
    } else throw new Error(`unexpected wire type ${wire} in a file descriptor`);
  }
  return { name, imports };
}

/** A FileDescriptorSet (repeated FileDescriptorProto file = 1) from encoded files. */
function descriptorSet(files: Iterable<Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const len: number[] = [];
    let n = f.length;
    while (n >= 0x80) {
      len.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    len.push(n);
    parts.push(Buffer.from([0x0a, ...len]), f);
  }
  return Buffer.concat(parts);
}

/** One reflection stream: send requests one at a time, read the answer to each. */
async function withStream<T>(stub: ReflectionStub, options: grpc.CallOptions, body: (ask: (request: Record<string, string>) => Promise<ReflectionResponse>) => Promise<T>): Promise<T> {
  const call = stub.ServerReflectionInfo(new grpc.Metadata(), options);
  const waiting: { resolve: (r: ReflectionResponse) => void; reject: (e: Error) => void }[] = [];
  let failed: Error | undefined;
  call.on('data', (r: ReflectionResponse) => waiting.shift()?.resolve(r));
  call.on('error', (err: Error) => {
    failed = err;
    for (const w of waiting.splice(0)) w.reject(err);
  });
  call.on('end', () => {
    const err = failed ?? new Error('the server closed the reflection stream');
    for (const w of waiting.splice(0)) w.reject(err);
  });
  const ask = (request: Record<string, string>) => new Promise<ReflectionResponse>((resolve, reject) => {
    if (failed) return reject(failed);
    waiting.push({ resolve, reject });
    call.write(request);
  });
  try {
    return await body(ask);
  } finally {
    call.end();
    call.cancel();
  }
}

/**
 * The package definition of the file declaring `service` and its imports,
 * fetched over the channel of `client`. Throws NoReflectionError when the
 * server has no reflection, UnknownServiceError when it does not know
 * the service, or the gRPC error (UNAVAILABLE, DEADLINE_EXCEEDED, ...).
 */
export async function reflectService(client: grpc.Client, service: string, options: grpc.CallOptions, loadOptions: protoLoader.Options): Promise<protoLoader.PackageDefinition> {
  for (const version of ['v1', 'v1alpha'] as const) {
    const Stub = clients()[version];
    const stub = new Stub('unused', grpc.credentials.createInsecure(), { channelOverride: client.getChannel() }) as unknown as ReflectionStub;
    try {
      const files = await withStream(stub, options, async (ask) => {
        const found = new Map<string, Buffer>();
        const add = (r: ReflectionResponse): string[] => {
          const next: string[] = [];
          for (const f of r.file_descriptor_response?.file_descriptor_proto ?? []) {
            const { name, imports } = fileNameAndImports(f);
            if (found.has(name)) continue;
            found.set(name, f);
            next.push(...imports);
          }
          return next;
        };
        const first = await ask({ file_containing_symbol: service });
        if (first.error_response) {
          const list = await ask({ list_services: '*' });
          const names = (list.list_services_response?.service ?? []).map((s) => s.name).filter((n) => !n.startsWith('grpc.reflection.'));
          throw new UnknownServiceError(`service ${service} is not on the server (it offers: ${names.join(', ') || 'nothing'})`);
        }
        // Fetch imports the server did not send along; the well-known types proto-loader has itself.
        const missing = add(first);
        const asked = new Set<string>();
        while (missing.length > 0) {
          const name = missing.pop() as string;
          if (found.has(name) || asked.has(name)) continue;
          asked.add(name);
          const r = await ask({ file_by_filename: name });
          if (!r.error_response) missing.push(...add(r));
        }
        return [...found.values()];
      });
      return protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet(files), loadOptions);
    } catch (err) {
      if ((err as { code?: number }).code === grpc.status.UNIMPLEMENTED) continue;
      throw err;
    }
    // The stub is not closed: closing it would close the shared channel.
  }
  throw new NoReflectionError('server has no reflection; set protoFile');
}
