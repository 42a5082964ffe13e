// Receivers for notification tests, in the test process: an SMTP server
// (the smtp-server package; plain SMTP with PLAIN/LOGIN auth, no STARTTLS)
// and a node:http webhook receiver that can refuse its first requests.

import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  readonly from: string;
  readonly to: string[];
  readonly user: string;
  /** The raw message (headers and body, as sent). */
  readonly raw: string;
  readonly subject: string;
  readonly body: string;
}

export interface SmtpReceiver {
  readonly port: number;
  readonly mails: ReceivedMail[];
  close(): Promise<void>;
}

/** An SMTP server that accepts `username`/`password` (and no other login) and keeps every message. */
export async function startSmtp(username: string, password: string): Promise<SmtpReceiver> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: false,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === username && auth.password === password) cb(null, { user: username });
      else cb(new Error('invalid login'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const split = raw.indexOf('\r\n\r\n');
        const head = split < 0 ? raw : raw.slice(0, split);
        const subject = /^Subject: (.*(?:\r\n[ \t].*)*)$/im.exec(head)?.[1]?.replace(/\r\n[ \t]/g, ' ') ?? '';
        const from = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
        mails.push({
          from, to: session.envelope.rcptTo.map((r) => r.address), user: String(session.user ?? ''), raw, subject,
          body: split < 0 ? '' : raw.slice(split + 4).replace(/\r\n/g, '\n'),
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export interface ReceivedHook {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The status the receiver answered. */
  readonly status: number;
}

export interface WebhookReceiver {
  readonly url: string;
  /** Every request, refused ones too, in order. */
  readonly requests: ReceivedHook[];
  /** Requests answered 200. */
  delivered(path?: string): ReceivedHook[];
  /** Refuse (HTTP 500) the next `n` requests. */
  failNext(n: number): void;
  /** Refuse every request until called with false. */
  failAll(on: boolean): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const requests: ReceivedHook[] = [];
  let failing = 0;
  let always = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const refuse = always || failing > 0;
      if (failing > 0) failing--;
      const status = refuse ? 500 : 200;
      requests.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(refuse ? 'not now' : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    delivered: (path) => requests.filter((r) => r.status === 200 && (path === undefined || r.path === path)),
    failNext: (n) => { failing = n; },
    failAll: (on) => { always = on; },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
