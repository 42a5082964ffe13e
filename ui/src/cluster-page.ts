// The cluster: servers (Raft role, term, commit and applied index, voter,
// status, leader), agents with
// their tags, executors, capacity and load, and the running executions.

import { api, type Execution } from './api.js';
import { duration, fill, h, jobHref, when } from './dom.js';

const refreshMs = 3000;

interface Raft { term: number; commit_index: number; applied_index: number }
interface Member { Name: string; Addr: string; Port: number; Tags: Record<string, string>; statusText: string; role: string; voter: boolean; raft?: Raft }
interface Agent { name: string; tags: Record<string, string>; executors: string[]; capacity: number; running: number; queued: number; assigned: number; leaving: boolean; version: string; last_seen: string }

const tags = (t: Record<string, string>) => h('span', {}, ...Object.entries(t).map(([k, v]) => h('span', { class: 'tag' }, `${k}=${v}`)));

export function clusterPage(app: HTMLElement): () => void {
  let stopped = false;
  let timer: number | undefined;
  const servers = h('tbody');
  const agents = h('tbody');
  const busy = h('tbody');
  const leader = h('p', { id: 'leader' });
  const message = h('div', { role: 'alert' });
  const head = (...cols: string[]) => h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', { scope: 'col' }, c))));
  fill(app, h('h1', {}, 'Cluster'), message, leader,
    h('h2', {}, 'Servers'), h('table', { id: 'servers' }, head('Name', 'Address', 'Raft role', 'Term', 'Commit', 'Applied', 'Voter', 'Status', 'Tags'), servers),
    h('h2', {}, 'Agents'), h('table', { id: 'agents' }, head('Name', 'Tags', 'Executors', 'Capacity', 'Running', 'Queued', 'Version', 'Last seen'), agents),
    h('h2', {}, 'Running executions'), h('table', { id: 'busy' }, head('Job', 'Execution', 'Node', 'Started', 'Running for'), busy));

  async function load(): Promise<void> {
    try {
      const [m, a, b, l] = await Promise.all([
        api<Member[]>('GET', '/v1/members'),
        api<Agent[]>('GET', '/v1/agents'),
        api<Execution[]>('GET', '/v1/busy'),
        api<Member>('GET', '/v1/leader').catch(() => null),
      ]);
      if (stopped) return;
      fill(message);
      fill(leader, l ? `Leader: ${l.body.Name}` : 'No leader right now.');
      // On the etcd store no server has a Raft position of ours; otherwise a missing one did not answer.
      const anyRaft = m.body.some((x) => x.raft !== undefined);
      fill(servers, ...m.body.filter((x) => x.Tags['server'] === 'true').map((s) => h('tr', {},
        h('td', {}, s.Name), h('td', {}, s.Tags['rpc_addr'] ?? `${s.Addr}:${s.Port}`), h('td', {}, s.role),
        ...(s.raft ? [s.raft.term, s.raft.commit_index, s.raft.applied_index].map((n) => h('td', { class: 'num' }, String(n)))
          : [h('td', { colspan: '3', class: 'muted' }, anyRaft ? 'not answering' : 'no Raft (etcd store)')]),
        h('td', {}, s.voter ? 'yes' : 'no'),
        h('td', {}, s.statusText), h('td', {}, tags(s.Tags)))));
      fill(agents, ...(a.body.length === 0 ? [h('tr', {}, h('td', { colspan: '8', class: 'muted' }, 'No remote agents (light mode runs jobs in-process).'))] : a.body.map((x) => h('tr', {},
        h('td', {}, x.name + (x.leaving ? ' (leaving)' : '')), h('td', {}, tags(x.tags)), h('td', {}, x.executors.join(', ')), h('td', {}, x.capacity),
        h('td', {}, x.running), h('td', {}, x.queued), h('td', {}, x.version), h('td', {}, when(x.last_seen))))));
      fill(busy, ...(b.body.length === 0 ? [h('tr', {}, h('td', { colspan: '5', class: 'muted' }, 'Nothing running.'))] : b.body.map((e) => h('tr', {},
        h('td', {}, h('a', { href: jobHref(e.job_name) }, e.job_name)),
        h('td', {}, h('a', { href: `${jobHref(e.job_name)}/executions/${encodeURIComponent(e.id)}` }, e.id)),
        h('td', {}, e.node_name), h('td', {}, when(e.started_at)), h('td', {}, duration(e.started_at, null))))));
    } catch (err) {
      if (!stopped) fill(message, h('div', { class: 'error-box' }, err instanceof Error ? err.message : String(err)));
    }
    if (!stopped) timer = window.setTimeout(() => void load(), refreshMs);
  }
  void load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
