// The CLI's entry: `clocktower <command> ...`. Server commands start here;
// client commands go to bin/cli.

// The server, agent and plugin code loads only for the commands that start
// them, so a client command (`jobs list`) starts in a fraction of the time.

import { packageVersion } from './package-version.js';
import { runClient, topLevelHelp } from './cli/run-client.js';
import { ConfigError, lightUsage, parseLightConfig } from './light-config.js';
import { agentUsage, parseAgentConfig } from './agent-config.js';
import { createLogger, type LogFields } from '../server/observe/logger.js';
import { coalescedLines } from '../server/observe/coalesced-lines.js';
import type { LightConfig } from './light-config.js';
import type { RunningServer } from './server.js';
import type { Observability } from './observability.js';
import { hideFromChildren } from '../plugins/sdk/child-env.js';

export interface Io {
  stdout(s: string): void;
  stderr(s: string): void;
  env: Record<string, string | undefined>;
}

/** Runs a command; resolves with the exit code. Server commands resolve when the server stops. */
export async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'light') return runLight(rest, io);
  if (command === '--version' || command === '-v') return runClient(['version', ...rest], io);
  if (command === 'agent') return runAgent(rest, io);
  // Hidden: how the single executable starts its bundled plugins (as itself).
  if (command === 'plugin') return (await import('./bundled-plugins.js')).runPluginRole(rest, io.stderr);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout(topLevelHelp());
    return command === undefined ? 2 : 0;
  }
  return runClient(argv, io);
}

async function runLight(argv: string[], io: Io): Promise<number> {
  return serve(io, lightUsage, () => parseLightConfig(argv, io.env, packageVersion()), async (config, obs) => (await import('./light.js')).startLight(config, obs));
}

async function runAgent(argv: string[], io: Io): Promise<number> {
  return serve(io, agentUsage, () => parseAgentConfig(argv, io.env, packageVersion()), async (config, obs) => config.server ? (await import('./server.js')).startServer(config, {
    rpcAddr: config.rpcAddr, advertiseRpcAddr: config.advertiseRpcAddr, bootstrapExpect: config.bootstrapExpect, join: config.join, raftMultiplier: config.raftMultiplier, metricsAddr: config.metricsAddr,
    etcd: config.etcd,
    agents: { tags: config.tags, capacity: config.capacity, heartbeatTimeoutMs: config.agentTimeoutMs, shutdownGraceMs: config.shutdownGraceMs },
  }, obs) : (await import('./agent.js')).startAgentOnly(config, obs));
}

/** Parse, start, and run until SIGINT/SIGTERM (or the server stops itself, after leaving its cluster). */
async function serve<C extends LightConfig>(io: Io, usage: string, parse: () => C | 'help', start: (config: C, obs: Observability) => Promise<Pick<RunningServer, 'stopped' | 'close'>>): Promise<number> {
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
  // The lines of one event-loop turn in one write; what waits is written when the process exits, however it exits.
  const lines = coalescedLines((text) => io.stderr(text));
  process.once('exit', () => lines.flush());
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, node: config.nodeName, write: (line) => lines.write(line) });
  if (config.apiToken !== undefined) {
    logger.addSecret(config.apiToken);
    hideFromChildren(config.apiToken);
  }
  // The parts' plain lines: a line saying something failed is a warning, a fatal one an error.
  const log = (line: string, fields?: LogFields) => {
    if (/^fatal\b/.test(line)) logger.error(line, fields);
    else if (/^warning\b|\b(failed|cannot|refused|unreachable|did not start)\b/.test(line)) logger.warn(line, fields);
    else logger.info(line, fields);
  };
  // A write past the process's file size limit then fails with EFBIG, which the
  // log handles as a storage error (refuse, step down, exit 1), instead of the
  // signal killing the process in the middle of a write.
  process.on('SIGXFSZ', () => {});
  let server: Pick<RunningServer, 'stopped' | 'close'>;
  try {
    server = await start(config, { logger, log });
  } catch (err) {
    logger.error(err instanceof Error ? err.message : String(err), { event: 'start_failed' });
    return 1;
  }
  return new Promise<number>((resolve) => {
    const stop = (why: string, exitCode: number) => {
      logger.info(`${why}: shutting down`, { event: 'shutdown', reason: why });
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      void server.close().then(() => resolve(exitCode));
    };
    const onInt = () => stop('SIGINT', 0);
    const onTerm = () => stop('SIGTERM', 0);
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    void server.stopped.then((how) => stop(how.why, how.exitCode));
  });
}
