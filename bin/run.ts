// The CLI's entry: `clocktower <command> ...`. Server commands start here;
// client commands go to bin/cli.

import { packageVersion } from './package-version.js';
import { runClient, topLevelHelp } from './cli/run-client.js';
import { startLight } from './light.js';
import { ConfigError, lightUsage, parseLightConfig } from './light-config.js';
import { agentUsage, parseAgentConfig } from './agent-config.js';
import { startServer, type RunningServer } from './server.js';
import { startAgentOnly } from './agent.js';

export interface Io {
  stdout(s: string): void;
  stderr(s: string): void;
  env: Record<string, string | undefined>;
}

/** Runs a command; resolves with the exit code. Server commands resolve when the server stops. */
export async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'light') return runLight(rest, io);
  if (command === 'agent') return runAgent(rest, io);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout(topLevelHelp());
    return command === undefined ? 2 : 0;
  }
  return runClient(argv, io);
}

async function runLight(argv: string[], io: Io): Promise<number> {
  return serve(io, lightUsage, () => parseLightConfig(argv, io.env, packageVersion()), (config, log) => startLight(config, log));
}

async function runAgent(argv: string[], io: Io): Promise<number> {
  return serve(io, agentUsage, () => parseAgentConfig(argv, io.env, packageVersion()), (config, log) => config.server ? startServer(config, {
    rpcAddr: config.rpcAddr, advertiseRpcAddr: config.advertiseRpcAddr, bootstrapExpect: config.bootstrapExpect, join: config.join, raftMultiplier: config.raftMultiplier,
    etcd: config.etcd,
    agents: { tags: config.tags, capacity: config.capacity, heartbeatTimeoutMs: config.agentTimeoutMs, shutdownGraceMs: config.shutdownGraceMs },
  }, log) : startAgentOnly(config, log));
}

/** Parse, start, and run until SIGINT/SIGTERM (or the server stops itself, after leaving its cluster). */
async function serve<C>(io: Io, usage: string, parse: () => C | 'help', start: (config: C, log: (line: string) => void) => Promise<Pick<RunningServer, 'stopped' | 'close'>>): Promise<number> {
  let config;
  try {
    config = parse();
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`error: ${err.message}\n\n${usage}`);
      return 2;
    }
    throw err;
  }
  if (config === 'help') {
    io.stdout(usage);
    return 0;
  }
  const log = (line: string) => io.stderr(`${new Date().toISOString()} ${line}\n`);
  let server: Pick<RunningServer, 'stopped' | 'close'>;
  try {
    server = await start(config, log);
  } catch (err) {
    io.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (why: string) => {
      log(`${why}: shutting down`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      void server.close().then(resolve);
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    void server.stopped.then(() => stop('left the cluster'));
  });
  return 0;
}
