// The agent holds live output back while its link to the server is full
// (gRPC write() said false) instead of queueing every chunk in the stream's
// unbounded buffer, and sends what it held once the link drains: the server
// still gets the whole output, once and in order. Real runner, real shell.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentRunner } from '../../agent/agent-runner.js';
import { ExecutorRegistry } from '../../plugins/sdk/executor-registry.js';
import { ShellExecutor } from '../../plugins/executors/shell/shell-executor.js';
import type { AgentMessage } from '../../proto/generated/clocktower/agent/v1/AgentMessage.js';
import type { ServerMessage__Output } from '../../proto/generated/clocktower/agent/v1/ServerMessage.js';
import { until } from '../support/light-process.js';

const dir = mkdtempSync(join(tmpdir(), 'ct-agent-bp-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('output waits while the link is full and goes out, whole and in order, once it drains', async (t) => {
  const gate = join(dir, 'gate');
  const marker = join(dir, 'printed');
  const holder = spawn('flock', ['--exclusive', gate, '-c', 'echo held; cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => { holder.kill('SIGKILL'); });
  await new Promise<void>((resolve) => holder.stdout.on('data', (d: Buffer) => { if (d.toString().includes('held')) resolve(); }));

  const runner = new AgentRunner({ node: 'a1', tags: {}, executors: new ExecutorRegistry([new ShellExecutor()]) });
  const sent: AgentMessage[] = [];
  let full = true;
  runner.attach((m) => { sent.push(m); return !full; }, 1_000_000);
  const command = `head -c 500000 /dev/zero | tr '\\0' a; touch ${marker}; flock --shared ${gate} true; printf end`;
  runner.handle({
    msg: 'assign',
    assign: { execution_id: '7', executor: 'shell', job_name: 'j', config: { shell: 'true', command }, scheduled_at_ms: '1', attempt: 1, resume_only: false, have_output_bytes: '0' },
  } as unknown as ServerMessage__Output);
  await until('the job to print its first part', async () => (existsSync(marker) ? true : undefined));
  const outputs = () => sent.filter((m) => m.output).map((m) => Buffer.from(m.output?.data as Uint8Array));
  t.equal(outputs().length, 1, 'after the link said it was full, nothing more was sent');
  full = false;
  runner.drained();
  holder.stdin.end();
  const result = await until('the result', async () => sent.find((m) => m.result)?.result ?? undefined);
  const streamed = Buffer.concat(outputs());
  const tail = Buffer.from(result.output_tail as Uint8Array);
  const total = Number(result.output_total_bytes);
  t.equal(total, 500_003);
  t.equal(streamed.length + tail.length, total, 'every byte once: streamed, then in the result');
  t.equal(Buffer.concat([streamed, tail]).toString(), `${'a'.repeat(500_000)}end`);
});
