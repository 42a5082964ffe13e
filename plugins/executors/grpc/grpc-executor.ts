// The grpc executor, with Dkron's config keys (url, body, headers, timeout,
// expectCode) plus protoFile, tls and tlsInsecureSkipVerify. It finds the
// method by server reflection, as Dkron (grpcurl) does, or from a .proto
// file, calls it once (unary) with the JSON body, and writes the response as
// JSON to the output. Channels are kept per (address, TLS settings), at most
// 100, least recently used closed; method descriptors are kept per channel
// and service, and fetched again after an UNIMPLEMENTED answer.

import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ExecErrorCode, failure, type ExecuteRequest, type ExecuteResult, type Executor, type OutputSink } from '../../sdk/executor.js';
import { parseGrpcConfig, statusName, validateGrpcConfig, type GrpcConfig } from './grpc-config.js';
import { ProtoJson } from './proto-json.js';
import { NoReflectionError, reflectService, UnknownServiceError } from './reflection.js';

const maxChannels = 100;
const loadOptions: protoLoader.Options = { keepCase: true, longs: String, enums: String, bytes: String, defaults: false, json: true };

interface Described {
  readonly definition: protoLoader.PackageDefinition;
  readonly json: ProtoJson;
  /** Request and response type names by method path, found once. */
  readonly types: Map<string, { readonly request: string; readonly response: string }>;
}

class StoppedError extends Error {}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'details' in err;
}

/** The full name of a method's request or response type in the package definition. */
function typeNameOf(definition: protoLoader.PackageDefinition, type: protoLoader.MessageTypeDefinition<object, object>): string {
  const nameOf = (t: unknown) => (t as { name?: string } | undefined)?.name;
  const candidates = Object.entries(definition).filter(([, d]) => nameOf((d as protoLoader.MessageTypeDefinition<object, object>).type) === nameOf(type.type));
  if (candidates.length === 1) return candidates[0]?.[0] ?? '';
  const shape = JSON.stringify(type.type);
  return candidates.find(([, d]) => JSON.stringify((d as protoLoader.MessageTypeDefinition<object, object>).type) === shape)?.[0] ?? '';
}

export class GrpcExecutor implements Executor {
  readonly name = 'grpc';
  private readonly channels = new Map<string, grpc.Client>();
  private readonly described = new Map<string, Promise<Described>>();

  validate(config: Readonly<Record<string, string>>): string | null {
    return validateGrpcConfig(config);
  }

  private channelKey(c: GrpcConfig): string {
    return JSON.stringify([c.address, c.tls, c.tlsInsecureSkipVerify]);
  }

  private channelFor(c: GrpcConfig): grpc.Client {
    const key = this.channelKey(c);
    let client = this.channels.get(key);
    if (client) {
      this.channels.delete(key);
      this.channels.set(key, client); // most recently used last
      return client;
    }
    const credentials = c.tls
      ? grpc.credentials.createSsl(null, null, null, c.tlsInsecureSkipVerify ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : {})
      : grpc.credentials.createInsecure();
    client = new grpc.Client(c.address, credentials, {});
    this.channels.set(key, client);
    if (this.channels.size > maxChannels) {
      const [oldestKey, oldest] = this.channels.entries().next().value as [string, grpc.Client];
      this.channels.delete(oldestKey);
      for (const k of [...this.described.keys()]) if (k.startsWith(oldestKey)) this.described.delete(k);
      oldest.close();
    }
    return client;
  }

  /** The method's descriptors: from the .proto file, or by reflection (cached). */
  private describe(c: GrpcConfig, client: grpc.Client, deadline: number): Promise<Described> {
    const key = c.protoFile
      ? `file:${c.protoFile}:${statSync(c.protoFile).mtimeMs}`
      : `${this.channelKey(c)}${c.service}`;
    let found = this.described.get(key);
    if (!found) {
      found = (async () => {
        const definition = c.protoFile
          ? await protoLoader.load(c.protoFile, { ...loadOptions, includeDirs: [dirname(c.protoFile)] })
          : await reflectService(client, c.service, { deadline }, loadOptions);
        return { definition, json: new ProtoJson(definition), types: new Map() };
      })();
      this.described.set(key, found);
      found.catch(() => this.described.delete(key));
    }
    return found;
  }

  private forget(c: GrpcConfig): void {
    if (!c.protoFile) this.described.delete(`${this.channelKey(c)}${c.service}`);
  }

  async execute(req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    const problem = validateGrpcConfig(req.config);
    if (problem) return failure(problem, -1, ExecErrorCode.ConfigInvalid);
    const c = parseGrpcConfig(req.config);
    const path = `/${c.service}/${c.method}`;
    const seconds = `${c.timeoutMs / 1000}s`;
    const deadline = Date.now() + c.timeoutMs;
    if (signal.aborted) return failure('stopped', -1, ExecErrorCode.Stopped);
    let stop: () => void = () => {};
    const stopped = new Promise<never>((_, reject) => {
      stop = () => reject(new StoppedError('stopped'));
    });
    stopped.catch(() => {});
    const onAbort = () => stop();
    signal.addEventListener('abort', onAbort, { once: true });
    const client = this.channelFor(c);
    try {
      let described: Described;
      try {
        described = await Promise.race([this.describe(c, client, deadline), stopped]);
      } catch (err) {
        if (err instanceof StoppedError) return failure('stopped', -1, ExecErrorCode.Stopped);
        if (err instanceof NoReflectionError || err instanceof UnknownServiceError) return failure(err.message);
        if (isServiceError(err)) return this.transportFailure(c, err, 'asking for the service by reflection', seconds);
        const e = err as Error & { code?: string };
        if (c.protoFile) return failure(`cannot load protoFile ${c.protoFile}: ${e.message}`);
        return failure(`server reflection failed: ${e.message}`);
      }
      const service = described.definition[c.service] as protoLoader.ServiceDefinition | undefined;
      if (!service || !(Object.values(service)[0] as { path?: string } | undefined)?.path) {
        const services = Object.entries(described.definition).filter(([, d]) => (Object.values(d)[0] as { path?: string } | undefined)?.path).map(([n]) => n);
        return failure(`service ${c.service} is not in ${c.protoFile ? `protoFile ${c.protoFile}` : 'the reflected files'} (services: ${services.join(', ') || 'none'})`);
      }
      const method = service[c.method];
      if (!method) {
        const names = [...new Set(Object.values(service).map((m) => m.path.split('/').pop() ?? ''))];
        return failure(`method ${c.method} is not in service ${c.service} (methods: ${names.join(', ')})`);
      }
      if (method.requestStream || method.responseStream) return failure(`method ${path} is streaming; only unary methods can be called`);

      let types = described.types.get(method.path);
      if (!types) {
        types = { request: typeNameOf(described.definition, method.requestType), response: typeNameOf(described.definition, method.responseType) };
        described.types.set(method.path, types);
      }
      let request: Buffer;
      try {
        const body: unknown = c.body.trim() === '' ? {} : JSON.parse(c.body);
        request = method.requestSerialize(described.json.toMessage(types.request, body));
      } catch (err) {
        return failure(`body does not fit ${path}'s request: ${(err as Error).message}`);
      }
      const metadata = new grpc.Metadata();
      try {
        for (const [k, v] of c.headers) metadata.add(k, k.endsWith('-bin') ? Buffer.from(v, 'base64') : v);
      } catch (err) {
        return failure(`bad header: ${(err as Error).message}`);
      }

      let call: grpc.ClientUnaryCall | undefined;
      stop = () => call?.cancel();
      if (signal.aborted) return failure('stopped', -1, ExecErrorCode.Stopped);
      const answer = await new Promise<{ err: grpc.ServiceError | null; value: unknown }>((resolve) => {
        call = client.makeUnaryRequest(method.path, (b: Buffer) => b, method.responseDeserialize, request, metadata, { deadline },
          (err, value) => resolve({ err, value }));
      });
      if (answer.err) {
        const err = answer.err;
        if (signal.aborted) return failure('stopped', -1, ExecErrorCode.Stopped);
        if (err.code === c.expectCode) {
          output.write(Buffer.from(`status ${statusName(err.code)}: ${err.details}\n`));
          return { success: true, exitCode: err.code, error: '' };
        }
        if (err.code === grpc.status.UNIMPLEMENTED) this.forget(c);
        return this.transportFailure(c, err, `calling ${path}`, seconds);
      }
      output.write(Buffer.from(`${JSON.stringify(described.json.toJson(types.response, answer.value), null, 2)}\n`));
      if (c.expectCode !== grpc.status.OK) return failure(`${path} answered OK, expected status ${statusName(c.expectCode)}`, 0);
      return { success: true, exitCode: 0, error: '' };
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private transportFailure(c: GrpcConfig, err: grpc.ServiceError, doing: string, seconds: string): ExecuteResult {
    if (err.code === grpc.status.DEADLINE_EXCEEDED) return failure(`timed out after ${seconds} ${doing} at ${c.address}`, err.code, ExecErrorCode.Timeout);
    if (err.code === grpc.status.UNAVAILABLE) return failure(`cannot reach ${c.address}${c.tls ? ' (TLS)' : ''}: ${err.details.replace(/\.?\s*Resolution note:\s*$/, '')}`, err.code);
    const expected = c.expectCode === grpc.status.OK ? '' : ` (expected ${statusName(c.expectCode)})`;
    return failure(`${doing}: status ${statusName(err.code)} (${err.code}): ${err.details}${expected}`, err.code);
  }

  async close(): Promise<void> {
    for (const client of this.channels.values()) client.close();
    this.channels.clear();
    this.described.clear();
  }
}
