// Scripted Raft scenarios with their expected output, in the style of
// etcd-io/raft's testdata: each file in test/server/raft/scenarios holds
// commands, each followed by `----` and what it must print. A scenario reads
// as a story of the tricky case it pins down. After a deliberate change of
// behaviour, `SCENARIOS_REWRITE=1 npx tap dist/test/server/raft/raft-scenarios.test.js`
// rewrites the expected output (review the diff before committing it).

import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfChange, Message } from '../../../server/raft/types.js';
import { RaftNetwork } from './raft-network.js';

const dir = 'test/server/raft/scenarios';
const rewrite = process.env['SCENARIOS_REWRITE'] === '1';

/** A command, what it must print, and the comment lines before it. */
interface Block { readonly comments: readonly string[]; readonly command: string; readonly expected: string }

function parse(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  let comments: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      comments.push(line);
      continue;
    }
    if (lines[i + 1] !== '----') throw new Error(`line ${i + 2}: expected ---- after "${line}"`);
    const out: string[] = [];
    for (i += 2; i < lines.length && (lines[i] ?? '') !== ''; i++) out.push(lines[i] ?? '');
    blocks.push({ comments, command: line, expected: out.join('\n') });
    comments = [];
  }
  return blocks;
}

class Scenario {
  private net: RaftNetwork | null = null;

  private network(): RaftNetwork {
    if (!this.net) throw new Error('start with: servers ID...');
    return this.net;
  }

  run(command: string): string {
    const [verb, ...args] = command.split(/\s+/);
    const arg = (i: number): string => {
      const a = args[i];
      if (a === undefined) throw new Error(`${verb}: missing argument ${i + 1}`);
      return a;
    };
    switch (verb) {
      case 'servers': {
        // `servers a b c maxBytes=0`: options after the ids (maxBytes=0 sends one entry per append).
        const ids = args.filter((a) => !a.includes('='));
        const maxBytes = args.find((a) => a.startsWith('maxBytes='));
        this.net = new RaftNetwork(ids, maxBytes ? { maxBytesPerMessage: Number(maxBytes.slice(9)) } : {});
        return this.status();
      }
      case 'hold':
        // From here on messages wait in the queue until `deliver` or `drop`.
        this.network().hold = true;
        return 'ok';
      case 'release':
        this.network().hold = false;
        this.network().stabilize();
        return this.status();
      case 'deliver':
        return this.network().deliver(matcher(args)).map(describe).join('\n') || '(nothing)';
      case 'drop':
        return this.network().drop(matcher(args)).map((m) => `dropped ${describe(m)}`).join('\n') || '(nothing)';
      case 'queued':
        return this.network().queued().map(describe).join('\n') || '(nothing)';
      case 'elect':
        return `${this.network().elect(args[0])} leads`;
      case 'propose': {
        const at = this.network().propose(arg(0), arg(1));
        return at ? `proposed at ${at.index} in term ${at.term}` : 'refused';
      }
      case 'conf': {
        const net = this.network();
        const cc: ConfChange = { type: arg(1) as ConfChange['type'], node: arg(2), address: `${arg(2)}:1` };
        if (cc.type !== 'remove' && !net.servers.has(cc.node)) net.add(cc.node, []);
        const at = net.get(arg(0)).core.proposeConfChange(cc);
        net.stabilize();
        return at ? `proposed at ${at.index} in term ${at.term}` : 'refused';
      }
      case 'tick': {
        const net = this.network();
        const n = Number(args[1] ?? 1);
        for (let i = 0; i < n; i++) {
          net.tick(arg(0));
          net.stabilize();
        }
        return this.status();
      }
      case 'tick-all': {
        const net = this.network();
        for (let i = 0; i < Number(arg(0)); i++) {
          for (const id of net.servers.keys()) net.tick(id);
          net.stabilize();
        }
        return this.status();
      }
      case 'isolate':
        this.network().isolate(arg(0));
        return 'ok';
      case 'cut':
        this.network().cutLink(arg(0), arg(1));
        return 'ok';
      case 'heal':
        this.network().heal();
        this.network().stabilize();
        return this.status();
      case 'unreachable':
        this.network().get(arg(0)).core.reportUnreachable(arg(1));
        return 'ok';
      case 'restart': {
        const net = this.network();
        const s = net.get(arg(0));
        // `restart ID commit=N`: come back with an older commit index on disk,
        // as the node driver (which persists it only with a term or vote) may.
        const commit = args[1]?.startsWith('commit=') ? Number(args[1].slice(7)) : null;
        if (commit !== null) s.hardState = { ...s.hardState, commit };
        net.restart(arg(0));
        return this.status(arg(0));
      }
      case 'status':
        return this.status(...args);
      case 'log': {
        const s = this.network().get(arg(0));
        return s.entries.map((e) => `${e.index}/${e.term}${e.data.length === 0 ? ' (empty)' : ''}`).join(' ');
      }
      case 'applied':
        return this.network().get(arg(0)).applied.join(' ') || '(nothing)';
      default:
        throw new Error(`unknown command "${verb}"`);
    }
  }

  private status(...only: string[]): string {
    const net = this.network();
    return [...net.servers].filter(([id]) => only.length === 0 || only.includes(id)).map(([id, s]) => {
      const c = s.core;
      const conf = c.conf();
      return `${id}: ${c.role} term=${c.term} leader=${c.leader ?? '-'} commit=${c.commitIndex} last=${c.lastIndex()} voters=${conf.voters.join(',') || '-'}${conf.learners.length ? ` learners=${conf.learners.join(',')}` : ''}`;
    }).join('\n');
  }
}

/** `from=a to=b type=app`: which queued messages a deliver or drop takes (all, without filters). */
function matcher(args: readonly string[]): (m: Message) => boolean {
  const want = new Map(args.map((a) => a.split('=') as [string, string]));
  return (m) => [...want].every(([k, v]) => (k === 'from' ? m.from : k === 'to' ? m.to : k === 'type' ? m.type : undefined) === v);
}

/** A message in a line, as the scenarios show it. */
function describe(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'app': return `${head} prev=${m.index}/${m.logTerm} entries=[${m.entries.map((e) => `${e.index}/${e.term}`).join(' ')}] commit=${m.commit}`;
    case 'appResp': return `${head} ${m.reject ? `reject hint=${m.rejectHint}/${m.rejectHintTerm}` : `index=${m.index}`}`;
    case 'vote': case 'preVote': return `${head} last=${m.index}/${m.logTerm}`;
    case 'voteResp': case 'preVoteResp': return `${head}${m.reject ? ' reject' : ' granted'}`;
    case 'heartbeat': return `${head} commit=${m.commit}`;
    default: return head;
  }
}

for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
  t.test(file, async (t) => {
    const path = join(dir, file);
    const text = readFileSync(path, 'utf8');
    const scenario = new Scenario();
    const out: string[] = [];
    for (const block of parse(text)) {
      let actual: string;
      try {
        actual = scenario.run(block.command);
      } catch (err) {
        actual = `error: ${err instanceof Error ? err.message : String(err)}`;
      }
      if (!rewrite) t.equal(actual, block.expected, `${file}: ${block.command}`);
      out.push(`${block.comments.map((c) => `${c}\n`).join('')}${block.command}\n----\n${actual}\n`);
    }
    if (rewrite) writeFileSync(path, out.join('\n'));
  });
}
