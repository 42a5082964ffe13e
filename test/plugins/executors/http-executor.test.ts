import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { HttpExecutor, validateHttpConfig } from '../../../plugins/executors/http/http-executor.js';

const tls = (f: string) => resolve('test/plugins/fixtures/tls', f);
const http = new HttpExecutor();
t.teardown(() => http.close());

function handler(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/slow') return void setTimeout(() => res.end('late'), 5000).unref();
    if (url.pathname === '/brief') return void setTimeout(() => res.end('brief'), 100).unref();
    res.statusCode = Number(url.searchParams.get('code') ?? 200);
    res.end(JSON.stringify({ method: req.method, body, auth: req.headers['x-auth'] ?? null, cert: (req.socket as { getPeerCertificate?: () => { subject?: { CN?: string } } }).getPeerCertificate?.()?.subject?.CN ?? null }));
  });
}

async function listen(server: ReturnType<typeof createServer>): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => { server.close(); server.closeAllConnections(); });
  return String((server.address() as AddressInfo).port);
}

async function run(config: Record<string, string>) {
  let output = '';
  const result = await http.execute({ jobName: 'j', config, executionId: '1', scheduledAtMs: 0, attempt: 1 }, { write: (c) => (output += Buffer.from(c).toString()) }, new AbortController().signal);
  return { result, output };
}

const port = await listen(createServer(handler));
const base = `http://127.0.0.1:${port}`;

t.test('a request, its body as output, headers and body sent', async (t) => {
  const { result, output } = await run({ method: 'POST', url: `${base}/x`, body: 'payload', headers: '["X-Auth: secret"]' });
  t.same(result, { success: true, exitCode: 200, error: '' });
  t.match(JSON.parse(output), { method: 'POST', body: 'payload', auth: 'secret' });
});

t.test('expectCode and expectBody', async (t) => {
  t.match((await run({ method: 'GET', url: `${base}/?code=500` })).result, { success: true, exitCode: 500 }, 'any response succeeds without expectCode');
  t.match((await run({ method: 'GET', url: `${base}/?code=500`, expectCode: '200,206' })).result, { success: false, error: /unexpected HTTP status 500 \(expected 200, 206\)/ });
  t.match((await run({ method: 'GET', url: `${base}/?code=206`, expectCode: '200,206' })).result, { success: true });
  t.match((await run({ method: 'GET', url: base, expectBody: '"method":"GET"' })).result, { success: true });
  t.match((await run({ method: 'GET', url: base, expectBody: '^nope$' })).result, { success: false, error: /does not match expectBody/ });
});

t.test('bad headers are noted, not fatal', async (t) => {
  const { result, output } = await run({ method: 'GET', url: base, headers: 'not json' });
  t.equal(result.success, true);
  t.match(output, /note: headers are not a JSON array/);
});

t.test('transport failures and timeouts fail clearly', async (t) => {
  const closed = createServer();
  const closedPort = await listen(closed);
  closed.close();
  t.match((await run({ method: 'GET', url: `http://127.0.0.1:${closedPort}/` })).result, { success: false, error: /ECONNREFUSED/ });
  t.match((await run({ method: 'GET', url: `${base}/slow`, timeout: '1' })).result, { success: false, error: /timed out after 1s/, errorCode: 'CT_EXEC_TIMEOUT' });
  t.match(validateHttpConfig({ method: 'GET', url: 'not a url' }), /not a valid URL/);
  t.match(validateHttpConfig({ method: 'GET' }), /url is required/);
  t.match(validateHttpConfig({ url: base, timeout: '2s' }), /whole seconds/);
});

t.test('a timeout past the timer limit (2^31-1 ms) does not fire at once', async (t) => {
  // 3,000,000 s is 34.7 days: Node alone would fire such a timer after 1 ms.
  const { result, output } = await run({ method: 'GET', url: `${base}/brief`, timeout: '3000000' });
  t.match(result, { success: true });
  t.match(output, /brief/);
});

t.test('TLS: root CA file, no-verify, client certificate', async (t) => {
  const server = createTlsServer({ key: readFileSync(tls('server.key')), cert: readFileSync(tls('server.crt')), ca: readFileSync(tls('ca.crt')), requestCert: true, rejectUnauthorized: false }, handler);
  const tlsPort = await listen(server as unknown as ReturnType<typeof createServer>);
  const url = `https://127.0.0.1:${tlsPort}/`;
  t.match((await run({ method: 'GET', url })).result, { success: false, error: /request to .* failed/ }, 'an unknown CA is refused');
  t.match((await run({ method: 'GET', url, tlsNoVerifyPeer: 'true' })).result, { success: true }, 'unless verification is off');
  t.match((await run({ method: 'GET', url, tlsRootCAsFile: tls('ca.crt') })).result, { success: true }, 'or the CA is given');
  const withCert = await run({ method: 'GET', url, tlsRootCAsFile: tls('ca.crt'), tlsCertificateFile: tls('client.crt'), tlsCertificateKeyFile: tls('client.key') });
  t.equal(JSON.parse(withCert.output).cert, 'clocktower-client', 'the client certificate is presented');
  t.match((await run({ method: 'GET', url, tlsRootCAsFile: tls('missing.crt') })).result, { success: false, error: /cannot read a TLS file/ });
});
