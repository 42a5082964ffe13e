// The CLI's entry: `clocktower <command> ...`. Server commands start here;
// client commands go to bin/cli.

import { packageVersion } from './package-version.js';
import { runClient, topLevelHelp } from './cli/run-client.js';
import { startLight } from './light.js';
import { ConfigError, lightUsage, parseLightConfig } from './light-config.js';

export interface Io {
  stdout(s: string): void;
  stderr(s: string): void;
  env: Record<string, string | undefined>;
}

/** Runs a command; resolves with the exit code. Server commands resolve when the server stops. */
export async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'light') return runLight(rest, io);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout(topLevelHelp());
    return command === undefined ? 2 : 0;
  }
  return runClient(argv, io);
}

async function runLight(argv: string[], io: Io): Promise<number> {
  let config;
  try {
    config = parseLightConfig(argv, io.env, packageVersion());
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`error: ${err.message}\n\n${lightUsage}`);
      return 2;
    }
    throw err;
  }
  if (config === 'help') {
    io.stdout(lightUsage);
    return 0;
  }
  const log = (line: string) => io.stderr(`${new Date().toISOString()} ${line}\n`);
  let server;
  try {
    server = await startLight(config, log);
  } catch (err) {
    io.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log(`${signal}: shutting down`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      void server.close().then(resolve);
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  return 0;
}
