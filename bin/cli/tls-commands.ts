// `clocktower tls ca create` and `clocktower tls cert create`: a cluster CA
// and certificates whose names carry the role, as Consul and Nomad name
// theirs: `server.<dc>.clocktower`, `agent.<dc>.clocktower`,
// `cli.<dc>.clocktower`. Servers check the role in the peer's certificate,
// never its IP address. Keys are ECDSA P-256, made by Node's crypto;
// certificates are signed by the `openssl` command. Every file is written
// 0600, and nothing is overwritten.

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

export type CertRole = 'server' | 'agent' | 'cli';

export const tlsUsage = `Usage:
  clocktower tls ca create [--dir DIR] [--days 1825] [--domain clocktower]
      writes DIR/clocktower-ca.pem and DIR/clocktower-ca-key.pem
  clocktower tls cert create --server|--agent|--cli [--dc dc1] [--node NAME]
      [--additional-dnsname NAME ...] [--additional-ipaddress IP ...]
      [--ca clocktower-ca.pem] [--key clocktower-ca-key.pem] [--days 365] [--dir DIR]
      writes DIR/<dc>-<role>-clocktower-<n>.pem and ...-<n>-key.pem, named
      <role>.<dc>.<domain> (a server's also NAME.server.<dc>.<domain> with --node,
      localhost and 127.0.0.1)
`;

export class TlsUsageError extends Error {}

function writePrivate(path: string, text: string): void {
  // 'wx': never overwrite; 0600 from the first byte.
  writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
}

function newKey(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('the openssl command is needed to sign certificates (Debian: apt-get install openssl)');
    throw new Error(`openssl ${args[0] ?? ''} failed: ${e.stderr?.toString().trim() ?? String(err)}`);
  }
}

function days(value: string | undefined, dflt: number): string {
  const n = Number(value ?? dflt);
  if (!Number.isInteger(n) || n < 1) throw new TlsUsageError(`--days ${value ?? ''} is not a positive whole number`);
  return String(n);
}

function label(value: string, flag: string): string {
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i.test(value)) throw new TlsUsageError(`${flag} "${value}" is not a DNS label (letters, digits and -)`);
  return value.toLowerCase();
}

/** The certificate's role from its DNS names: the first `<role>.<dc>.<domain>` one. */
export function certRole(dnsNames: readonly string[], domain = 'clocktower'): { role: CertRole; dc: string; node: string | null } | null {
  let found: { role: CertRole; dc: string } | null = null;
  let node: string | null = null;
  for (const name of dnsNames) {
    const parts = name.toLowerCase().split('.');
    if (parts.at(-1) !== domain) continue;
    if (parts.length === 3 && (parts[0] === 'server' || parts[0] === 'agent' || parts[0] === 'cli')) found ??= { role: parts[0], dc: parts[1] ?? '' };
    if (parts.length === 4 && parts[1] === 'server') node ??= parts[0] ?? null;
  }
  return found ? { ...found, node: found.role === 'server' ? node : null } : null;
}

export function tlsCommand(argv: string[], out: (s: string) => void): number {
  const [what, action, ...rest] = argv;
  if (what === undefined || what === '--help' || what === '-h') {
    out(tlsUsage);
    return 0;
  }
  if (what === 'ca' && action === 'create') return caCreate(rest, out);
  if (what === 'cert' && action === 'create') return certCreate(rest, out);
  throw new TlsUsageError(`unknown tls command "${[what, action].filter(Boolean).join(' ')}"`);
}

function usageErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new TlsUsageError((err as Error).message);
  }
}

function caCreate(args: string[], out: (s: string) => void): number {
  const { values } = usageErrors(() => parseArgs({ args, strict: true, options: { dir: { type: 'string' }, days: { type: 'string' }, domain: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  if (values.help) { out(tlsUsage); return 0; }
  const dir = resolve(values.dir ?? '.');
  const domain = label(values.domain ?? 'clocktower', '--domain');
  const certPath = join(dir, `${domain}-ca.pem`);
  const keyPath = join(dir, `${domain}-ca-key.pem`);
  for (const p of [certPath, keyPath]) if (existsSync(p)) throw new Error(`${p} exists already; it is never overwritten`);
  const work = mkdtempSync(join(tmpdir(), 'ct-tls-'));
  try {
    const key = join(work, 'key.pem');
    const cert = join(work, 'cert.pem');
    writePrivate(key, newKey());
    openssl(['req', '-new', '-x509', '-key', key, '-out', cert, '-days', days(values.days, 1825), '-sha256',
      '-subj', `/O=Clocktower/CN=Clocktower CA ${randomBytes(4).toString('hex')}`,
      '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    writePrivate(certPath, readText(cert));
    writePrivate(keyPath, readText(key));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  out(`==> Saved ${certPath}\n==> Saved ${keyPath}\n`);
  return 0;
}

function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

function certCreate(args: string[], out: (s: string) => void): number {
  const { values } = usageErrors(() => parseArgs({ args, strict: true, options: {
    help: { type: 'boolean', short: 'h' },
    server: { type: 'boolean' }, agent: { type: 'boolean' }, cli: { type: 'boolean' },
    dc: { type: 'string' }, node: { type: 'string' }, domain: { type: 'string' },
    'additional-dnsname': { type: 'string', multiple: true }, 'additional-ipaddress': { type: 'string', multiple: true },
    ca: { type: 'string' }, key: { type: 'string' }, days: { type: 'string' }, dir: { type: 'string' },
  } }));
  if (values.help) { out(tlsUsage); return 0; }
  const roles = (['server', 'agent', 'cli'] as const).filter((r) => values[r] === true);
  if (roles.length !== 1) throw new TlsUsageError('give exactly one of --server, --agent, --cli');
  const role = roles[0] as CertRole;
  const domain = label(values.domain ?? 'clocktower', '--domain');
  const dc = label(values.dc ?? 'dc1', '--dc');
  const dir = resolve(values.dir ?? '.');
  const caCert = resolve(values.ca ?? `${domain}-ca.pem`);
  const caKey = resolve(values.key ?? `${domain}-ca-key.pem`);
  for (const p of [caCert, caKey]) if (!existsSync(p)) throw new Error(`${p} does not exist: run \`clocktower tls ca create\` first, or give --ca and --key`);
  const dns = [`${role}.${dc}.${domain}`];
  if (values.node !== undefined) {
    if (role !== 'server') throw new TlsUsageError('--node is for server certificates');
    dns.push(`${label(values.node, '--node')}.server.${dc}.${domain}`);
  }
  if (role === 'server') dns.push('localhost');
  for (const d of values['additional-dnsname'] ?? []) {
    if (!/^[a-z0-9*]([a-z0-9.-]*[a-z0-9])?$/i.test(d)) throw new TlsUsageError(`--additional-dnsname "${d}" is not a DNS name`);
    dns.push(d);
  }
  const ips = role === 'server' ? ['127.0.0.1', '::1'] : [];
  for (const ip of values['additional-ipaddress'] ?? []) {
    if (isIP(ip) === 0) throw new TlsUsageError(`--additional-ipaddress "${ip}" is not an IP address`);
    ips.push(ip);
  }
  let n = 0;
  const base = () => join(dir, `${dc}-${role}-${domain}-${n}`);
  while (existsSync(`${base()}.pem`) || existsSync(`${base()}-key.pem`)) n++;
  const certPath = `${base()}.pem`;
  const keyPath = `${base()}-key.pem`;
  const work = mkdtempSync(join(tmpdir(), 'ct-tls-'));
  try {
    const key = join(work, 'key.pem');
    const csr = join(work, 'req.csr');
    const ext = join(work, 'ext.cnf');
    const cert = join(work, 'cert.pem');
    writePrivate(key, newKey());
    openssl(['req', '-new', '-key', key, '-out', csr, '-subj', `/O=Clocktower/CN=${dns[0] ?? ''}`]);
    const san = [...dns.map((d) => `DNS:${d}`), ...ips.map((i) => `IP:${i}`)].join(',');
    const usage = role === 'cli' ? 'clientAuth' : 'serverAuth,clientAuth';
    writePrivate(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=${usage}\nsubjectAltName=${san}\n`);
    openssl(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
      '-out', cert, '-days', days(values.days, 365), '-sha256', '-extfile', ext]);
    writePrivate(certPath, readText(cert));
    writePrivate(keyPath, readText(key));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  out(`==> Using ${caCert} and ${caKey}\n==> Saved ${certPath}\n==> Saved ${keyPath}\n`);
  return 0;
}
