// Mutual TLS between Clocktower's processes: the CA, this node's certificate
// and key (files, re-read when they change), and the peer's role read from
// its certificate's names: `server.<dc>.clocktower`, `agent.<dc>.clocktower`
// or `cli.<dc>.clocktower` (see `clocktower tls cert create`). A server's
// certificate may also name the node, `<node>.server.<dc>.clocktower`; then
// that server may speak for that node only.

import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';

export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export type CertRole = 'server' | 'agent' | 'cli';

export interface CertIdentity {
  readonly role: CertRole;
  readonly dc: string;
  /** The node a server certificate is limited to (null: any server). */
  readonly node: string | null;
}

export const tlsDomain = 'clocktower';

/** How often certificate files are checked for changes. */
export const tlsRefreshMs = 1000;

/** The identity in a certificate's DNS names: the first `<role>.<dc>.clocktower`. */
export function certIdentity(dnsNames: readonly string[]): CertIdentity | null {
  let found: { role: CertRole; dc: string } | null = null;
  let node: string | null = null;
  for (const name of dnsNames) {
    const parts = name.toLowerCase().split('.');
    if (parts.at(-1) !== tlsDomain) continue;
    const [first, second, third] = parts;
    if (parts.length === 3 && (first === 'server' || first === 'agent' || first === 'cli') && second) found ??= { role: first, dc: second };
    if (parts.length === 4 && second === 'server' && first && third) node ??= first;
  }
  return found ? { ...found, node: found.role === 'server' ? node : null } : null;
}

/** DNS names of a subjectAltName string ("DNS:a, IP Address:1.2.3.4, ..."). */
function dnsNames(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? '').split(/,\s*/).filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
}

/** The identity of a TLS peer (node's PeerCertificate), or null if it has none we know. */
export function peerIdentity(cert: PeerCertificate | undefined | null): CertIdentity | null {
  if (!cert || Object.keys(cert).length === 0) return null;
  return certIdentity(dnsNames(cert.subjectaltname));
}

/** The identity of a gRPC call's peer; null without TLS or without a known certificate. */
export function callIdentity(call: { getAuthContext?(): { sslPeerCertificate?: PeerCertificate } | null }): CertIdentity | null {
  return peerIdentity(call.getAuthContext?.()?.sslPeerCertificate);
}

/** This node's own identity, from its certificate file; throws a clear error if it has none. */
export function ownIdentity(files: TlsFiles): CertIdentity {
  const cert = new X509Certificate(readFileSync(files.cert));
  const id = certIdentity(dnsNames(cert.subjectAltName));
  if (!id) throw new Error(`${files.cert} names no role (server.<dc>.${tlsDomain}, agent.<dc>.${tlsDomain} or cli.<dc>.${tlsDomain}): make it with \`clocktower tls cert create\``);
  return id;
}

/** The DNS names of this node's certificate file (the names clients may reach it by). */
export function ownDnsNames(files: TlsFiles): string[] {
  return dnsNames(new X509Certificate(readFileSync(files.cert)).subjectAltName);
}

/** The name a server's certificate carries, which clients check instead of its address. */
export function serverName(dc: string): string {
  return `server.${dc}.${tlsDomain}`;
}

/** Reads the three files, checking they exist, so a typo is a clear error at start. */
export function readTlsFiles(files: TlsFiles): { ca: Buffer; cert: Buffer; key: Buffer } {
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read the TLS ${what} ${path}: ${(err as Error).message}`);
    }
  };
  return { ca: read('CA', files.ca), cert: read('certificate', files.cert), key: read('key', files.key) };
}

function provider(files: TlsFiles): grpc.experimental.CertificateProvider {
  return new grpc.experimental.FileWatcherCertificateProvider({
    caCertificateFile: files.ca, certificateFile: files.cert, privateKeyFile: files.key, refreshIntervalMs: tlsRefreshMs,
  });
}

/** gRPC server credentials: this node's certificate, and a client certificate from the CA required. Files are re-read as they change. */
export function grpcServerCredentials(files: TlsFiles): grpc.ServerCredentials {
  readTlsFiles(files);
  const p = provider(files);
  return grpc.experimental.createCertificateProviderServerCredentials(p, p, true);
}

/** gRPC client credentials presenting this node's certificate; the server must have one from the CA. */
export function grpcChannelCredentials(files: TlsFiles): grpc.ChannelCredentials {
  readTlsFiles(files);
  const p = provider(files);
  return grpc.experimental.createCertificateProviderChannelCredentials(p, p);
}

/** Channel options that check the server's certificate names `server.<dc>.clocktower`, whatever address it is dialled at. */
export function grpcChannelOptions(files: TlsFiles | null): grpc.ChannelOptions {
  if (files === null) return {};
  return { 'grpc.ssl_target_name_override': serverName(ownIdentity(files).dc), 'grpc.default_authority': serverName(ownIdentity(files).dc) };
}

/** Options for a TLS client (undici's connect, tls.connect): this node's certificate, the CA, and the server name to check. */
export function tlsClientOptions(files: TlsFiles): { ca: Buffer; cert: Buffer; key: Buffer; servername: string } {
  const { ca, cert, key } = readTlsFiles(files);
  return { ca, cert, key, servername: serverName(ownIdentity(files).dc) };
}

/** Watches the files' size and modification time: changed() says when to load them again. */
export class TlsFileWatch {
  private stamp = '';
  constructor(readonly files: TlsFiles) {
    this.stamp = this.current();
  }

  private current(): string {
    return [this.files.ca, this.files.cert, this.files.key].map((f) => {
      try {
        const s = statSync(f);
        return `${s.mtimeMs}:${s.size}`;
      } catch {
        return 'missing';
      }
    }).join('|');
  }

  /** Makes the next changed() true (loading failed: try again). */
  forget(): void {
    this.stamp = '';
  }

  /** True once if the files changed since the last call (or construction). */
  changed(): boolean {
    const now = this.current();
    if (now === this.stamp) return false;
    this.stamp = now;
    return true;
  }
}
