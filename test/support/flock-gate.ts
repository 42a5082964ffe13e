// A gate jobs wait at: `flock GATE true` blocks while the test holds the
// lock exclusively (flock(1) holds it while its `cat` reads our stdin).

import { spawn } from 'node:child_process';

/** Hold `gate` until the returned release() is called; `onTeardown` kills the holder if the test ends first. */
export async function holdGate(gate: string, onTeardown: (fn: () => void) => void): Promise<() => void> {
  const holder = spawn('flock', ['--exclusive', gate, '-c', 'echo held; cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  onTeardown(() => { holder.kill('SIGKILL'); });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (d: Buffer) => { if (d.toString().includes('held')) resolve(); });
    holder.once('exit', (code) => reject(new Error(`flock exited with ${String(code)} before it held the gate`)));
  });
  return () => holder.stdin.end();
}
