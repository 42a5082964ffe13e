// The plugin handshake, as HashiCorp go-plugin does it, so a plugin can be
// written in any language with gRPC:
// - the host starts the program with CLOCKTOWER_PLUGIN_MAGIC_COOKIE set to
//   the cookie below (a program started by hand, without it, explains itself
//   and exits);
// - the plugin listens, then prints exactly one line on stdout:
//   CORE-VERSION|APP-VERSION|NETWORK|ADDRESS|grpc   e.g. 1|1|unix|/tmp/x.sock|grpc
// - the host connects over gRPC and checks grpc.health.v1.

export const magicCookieKey = 'CLOCKTOWER_PLUGIN_MAGIC_COOKIE';
export const magicCookieValue = 'd3f1c0c4-7e2a-4b8e-9a51-clocktower-plugin';
export const coreProtocolVersion = 1;
export const appProtocolVersion = 1;

export interface Handshake {
  readonly coreVersion: number;
  readonly appVersion: number;
  readonly network: 'unix' | 'tcp';
  readonly address: string;
}

export function formatHandshake(h: Handshake): string {
  return `${h.coreVersion}|${h.appVersion}|${h.network}|${h.address}|grpc`;
}

export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  readonly code = 'CT_PLUGIN_HANDSHAKE';
}

/** Parse the handshake line; throws HandshakeError saying what is wrong. */
export function parseHandshake(line: string): Handshake {
  const shown = JSON.stringify(line.length > 120 ? `${line.slice(0, 120)}...` : line);
  const parts = line.trim().split('|');
  if (parts.length !== 5) throw new HandshakeError(`bad handshake line ${shown}: expected CORE-VERSION|APP-VERSION|NETWORK|ADDRESS|grpc`);
  const [core, app, network, address, protocol] = parts as [string, string, string, string, string];
  if (Number(core) !== coreProtocolVersion) throw new HandshakeError(`plugin speaks core protocol ${core}, this host speaks ${coreProtocolVersion}`);
  if (Number(app) !== appProtocolVersion) throw new HandshakeError(`plugin speaks app protocol ${app}, this host speaks ${appProtocolVersion}`);
  if (network !== 'unix' && network !== 'tcp') throw new HandshakeError(`bad handshake line ${shown}: network must be unix or tcp`);
  if (protocol !== 'grpc') throw new HandshakeError(`bad handshake line ${shown}: only the grpc protocol is supported`);
  if (address === '') throw new HandshakeError(`bad handshake line ${shown}: no address`);
  return { coreVersion: coreProtocolVersion, appVersion: appProtocolVersion, network, address };
}

export function notLaunchedByHost(program: string): string {
  return `This is a Clocktower plugin (${program}). It is not meant to be run by hand:
Clocktower starts it when a job uses it. Put it in a plugin directory
(clocktower agent --plugin-dir DIR) named clocktower-executor-NAME or
clocktower-processor-NAME, and point a job at it with "executor": "NAME".
`;
}
