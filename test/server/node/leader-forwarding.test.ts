// A follower's calls to the leader's API, against a real HTTP server on
// loopback standing for the leader: what is relayed each way, and what a
// missing or unreachable leader answers.
import t from 'tap';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClusterError, type Member, type ServerClusterNode } from '../../../server/cluster/cluster-node.js';
import { forwardedHeader } from '../../../server/cluster/forwarded-header.js';
import { LeaderForwarding } from '../../../server/node/leader-forwarding.js';
import { freePort } from '../../support/free-port.js';

/** What this follower knows of the cluster: who leads, at which API address. */
function follower(leader: { name: string; http: string } | null): ServerClusterNode<unknown> {
  return {
    nodeName: 'f1',
    propose: () => Promise.reject(new ClusterError('CT_CLUSTER_NOT_LEADER', 'not the leader')),
    isLeader: () => false,
    leaderName: () => leader?.name ?? null,
    members: (): Member[] => [],
    addressOf: (name) => (leader && name === leader.name ? { rpc: '', http: leader.http } : null),
    readBarrier: () => Promise.resolve(),
    onLeadershipChange: () => () => {},
    close: () => Promise.resolve(),
  };
}

interface Seen { method: string; url: string; headers: IncomingHttpHeaders; body: string }

async function leaderApi(t: { teardown(fn: () => unknown): void }): Promise<{ http: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url === '/v1') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ raft: { term: 3, commit_index: 10, applied_index: 9 } }));
      } else if (req.headers.accept === 'text/event-stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: one\n\n');
        res.end('data: two\n\n');
      } else {
        res.writeHead(201, { 'content-type': 'application/json', 'x-total-count': '7', 'x-other': 'no' }).end('{"created":true}');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { http: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

t.test('a write is forwarded with the caller\'s token and content type, marked forwarded, and its answer relayed', async (t) => {
  const leader = await leaderApi(t);
  const f = new LeaderForwarding(follower({ name: 'l1', http: leader.http }), null);
  t.teardown(() => f.close());
  const reply = await f.forward({
    method: 'POST', path: '/v1/jobs?runoncreate=true',
    headers: { authorization: 'Bearer secret', 'content-type': 'application/json', cookie: 'session=1', host: 'follower' },
    body: Buffer.from('{"name":"j"}'),
  });
  t.same(reply, { status: 201, body: '{"created":true}', raw: true, headers: { 'x-total-count': '7' } });
  const seen = leader.seen[0];
  t.equal(seen?.method, 'POST');
  t.equal(seen?.url, '/v1/jobs?runoncreate=true');
  t.equal(seen?.body, '{"name":"j"}');
  t.equal(seen?.headers.authorization, 'Bearer secret');
  t.equal(seen?.headers['content-type'], 'application/json');
  t.equal(seen?.headers[forwardedHeader], 'f1', 'marked forwarded by this server, so it is never forwarded again');
  t.equal(seen?.headers.cookie, undefined, 'other headers stay behind');
});

t.test('a stream is relayed as it comes; a peer\'s Raft position is read from its GET /v1', async (t) => {
  const leader = await leaderApi(t);
  const f = new LeaderForwarding(follower({ name: 'l1', http: leader.http }), null);
  t.teardown(() => f.close());
  const stream = await f.stream({ method: 'GET', path: '/v1/executions/1/stream', headers: { authorization: 'Bearer secret' }, body: Buffer.alloc(0) });
  t.equal(stream.status, 200);
  t.equal(stream.contentType, 'text/event-stream');
  let text = '';
  for await (const chunk of stream.body) text += Buffer.from(chunk).toString();
  t.equal(text, 'data: one\n\ndata: two\n\n');
  t.same(await f.peerRaftStatus('l1', { authorization: 'Bearer secret' }), { term: 3, commit_index: 10, applied_index: 9 });
  t.equal(await f.peerRaftStatus('unknown', {}), null, 'a server without an address: no position');
});

t.test('no leader, or a leader that does not answer: CT_CLUSTER_NOT_LEADER with the reason', async (t) => {
  const none = new LeaderForwarding(follower(null), null);
  await t.rejects(none.forward({ method: 'POST', path: '/v1/jobs', headers: {}, body: Buffer.alloc(0) }), { code: 'CT_CLUSTER_NOT_LEADER', message: /no leader/ });
  await t.rejects(none.stream({ method: 'GET', path: '/v1/x', headers: {}, body: Buffer.alloc(0) }), { code: 'CT_CLUSTER_NOT_LEADER', message: /no leader/ });
  const port = await freePort();
  const gone = new LeaderForwarding(follower({ name: 'l1', http: `127.0.0.1:${port}` }), null);
  t.teardown(() => gone.close());
  await t.rejects(gone.forward({ method: 'POST', path: '/v1/jobs', headers: {}, body: Buffer.alloc(0) }), { code: 'CT_CLUSTER_NOT_LEADER', message: /cannot reach the leader l1/ });
});
