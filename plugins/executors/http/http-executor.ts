// The http executor, with Dkron's config keys: method, url, headers, body,
// timeout (seconds), expectCode, expectBody, debug, tlsNoVerifyPeer,
// tlsCertificateFile / tlsCertificateKeyFile, tlsRootCAsFile. The response
// body is the output, streamed as it arrives. Connection pools are kept per
// TLS configuration (at most 100, least recently used dropped).

import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { ExecErrorCode, failure, type ExecuteRequest, type ExecuteResult, type Executor, type OutputSink } from '../../sdk/executor.js';
import { setLongTimeout } from '../../../common/long-timeout.js';

/** How much of the body `expectBody` is matched against. */
const expectBodyWindow = 1024 * 1024;
const maxAgents = 100;

export function validateHttpConfig(config: Readonly<Record<string, string>>): string | null {
  if (!config['url']) return 'url is required';
  try {
    new URL(config['url']);
  } catch {
    return `url "${config['url']}" is not a valid URL`;
  }
  if (config['timeout'] && !/^\d+$/.test(config['timeout'])) return `timeout must be whole seconds, not "${config['timeout']}"`;
  if (config['expectCode'] && !/^\s*\d{3}(\s*,\s*\d{3})*\s*$/.test(config['expectCode'])) return `expectCode must be a comma list of status codes, not "${config['expectCode']}"`;
  if (config['expectBody']) {
    try {
      new RegExp(config['expectBody']);
    } catch (err) {
      return `expectBody is not a valid regular expression: ${(err as Error).message}`;
    }
  }
  return null;
}

function parseHeaders(text: string, output: OutputSink): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!text) return headers;
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (err) {
    output.write(Buffer.from(`note: headers are not a JSON array of "Name: Value" strings (${(err as Error).message}); sent none\n`));
    return headers;
  }
  if (!Array.isArray(list)) return headers;
  for (const item of list) {
    if (typeof item !== 'string') continue;
    const colon = item.indexOf(':');
    if (colon > 0) headers[item.slice(0, colon).trim().toLowerCase()] = item.slice(colon + 1).trim();
  }
  return headers;
}

export class HttpExecutor implements Executor {
  readonly name = 'http';
  private readonly agents = new Map<string, Agent>();

  validate(config: Readonly<Record<string, string>>): string | null {
    return validateHttpConfig(config);
  }

  private agentFor(c: Readonly<Record<string, string>>): Agent {
    const key = JSON.stringify([c['tlsNoVerifyPeer'] === 'true', c['tlsCertificateFile'] ?? '', c['tlsCertificateKeyFile'] ?? '', c['tlsRootCAsFile'] ?? '']);
    let agent = this.agents.get(key);
    if (agent) {
      this.agents.delete(key);
      this.agents.set(key, agent); // most recently used last
      return agent;
    }
    const connect: Record<string, unknown> = { rejectUnauthorized: c['tlsNoVerifyPeer'] !== 'true' };
    if (c['tlsRootCAsFile']) connect['ca'] = readFileSync(c['tlsRootCAsFile']);
    if (c['tlsCertificateFile']) connect['cert'] = readFileSync(c['tlsCertificateFile']);
    if (c['tlsCertificateKeyFile']) connect['key'] = readFileSync(c['tlsCertificateKeyFile']);
    agent = new Agent({ connect, connections: 64, keepAliveTimeout: 30_000 });
    this.agents.set(key, agent);
    if (this.agents.size > maxAgents) {
      const [oldestKey, oldest] = this.agents.entries().next().value as [string, Agent];
      this.agents.delete(oldestKey);
      void oldest.close();
    }
    return agent;
  }

  async execute(req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    const c = req.config;
    const problem = validateHttpConfig(c);
    if (problem) return failure(problem, -1, ExecErrorCode.ConfigInvalid);
    const method = (c['method'] || 'GET').toUpperCase();
    const timeoutMs = Number(c['timeout'] || 30) * 1000;
    const debug = Boolean(c['debug']);
    if (debug) output.write(Buffer.from(`config: ${JSON.stringify(c)}\n`));
    let agent: Agent;
    try {
      agent = this.agentFor(c);
    } catch (err) {
      return failure(`cannot read a TLS file: ${(err as Error).message}`, -1, ExecErrorCode.ConfigInvalid);
    }
    // One controller per request, aborted by a stop or by the timeout.
    const ac = new AbortController();
    let timedOut = false;
    const timer = setLongTimeout(() => { timedOut = true; ac.abort(); }, timeoutMs);
    const onStop = () => ac.abort();
    signal.addEventListener('abort', onStop, { once: true });
    let seen = '';
    try {
      const res = await request(c['url'] as string, {
        method: method as 'GET',
        headers: parseHeaders(c['headers'] ?? '', output),
        ...(c['body'] && method !== 'GET' && method !== 'HEAD' ? { body: c['body'] } : {}),
        dispatcher: agent,
        signal: ac.signal,
      });
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        output.write(buf);
        if (seen.length < expectBodyWindow) seen += buf.toString('utf8', 0, Math.min(buf.length, expectBodyWindow - seen.length));
      }
      const code = res.statusCode;
      const expected = (c['expectCode'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      if (expected.length > 0 && !expected.includes(String(code))) {
        return failure(`unexpected HTTP status ${code} (expected ${expected.join(', ')})`, code);
      }
      if (c['expectBody'] && !new RegExp(c['expectBody']).test(seen)) {
        return failure(`the response body does not match expectBody ${JSON.stringify(c['expectBody'])}`, code);
      }
      return { success: true, exitCode: code, error: '' };
    } catch (err) {
      if (signal.aborted) return failure('stopped', -1, ExecErrorCode.Stopped);
      if (timedOut) return failure(`timed out after ${timeoutMs / 1000}s waiting for ${c['url']}`, -1, ExecErrorCode.Timeout);
      const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
      const code = e.cause?.code ?? e.code ?? '';
      return failure(`request to ${c['url']} failed: ${code ? `${code}: ` : ''}${e.cause?.message ?? e.message}`);
    } finally {
      timer.clear();
      signal.removeEventListener('abort', onStop);
    }
  }

  async close(): Promise<void> {
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(agents.map((a) => a.close()));
  }
}
