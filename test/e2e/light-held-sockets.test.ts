// Held sockets cannot lock the API out: with `ulimit -n` at 160, 300
// slow-header and slow-body connections are held open, and /health and the
// job list still answer on fresh connections (the oldest held socket makes room).

import t from 'tap';
import { connect, type Socket } from 'node:net';
import { request } from 'undici';
import { startLight, tempDir } from '../support/light-process.js';

async function get(url: string): Promise<number> {
  const res = await request(url, { headersTimeout: 15_000, bodyTimeout: 15_000, reset: true });
  await res.body.text();
  return res.statusCode;
}

t.test('300 held sockets under a low open-file limit', async (t) => {
  const dir = tempDir();
  t.teardown(() => dir.remove());
  const light = await startLight(dir.path, [], {}, ['prlimit', '--nofile=160:160']);
  t.teardown(() => light.stop());
  const { hostname, port } = new URL(light.url);
  const held: Socket[] = [];
  t.teardown(() => { for (const s of held) s.destroy(); });
  for (let i = 0; i < 300; i++) {
    const s = connect(Number(port), hostname);
    s.on('error', () => {});
    await new Promise<void>((res) => { s.once('connect', () => res()); s.once('close', () => res()); });
    // Half never finish their headers, half never finish their body (with a
    // Host the API answers to: a foreign one would be refused at once).
    s.write(i % 2 === 0
      ? 'GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n'
      : 'POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":');
    held.push(s);
  }
  t.equal(await get(`${light.url}/health`), 200, '/health answers');
  t.equal(await get(`${light.url}/v1/jobs`), 200, 'the job list answers');
  const stillOpen = held.filter((s) => !s.destroyed).length;
  t.ok(stillOpen < 160, `the held sockets were capped (${stillOpen} still open)`);
  t.match(light.log(), /API on/, 'the server is still up');
  t.equal(light.child.exitCode, null);
});
