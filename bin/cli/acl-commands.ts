// ACL client commands: `acl bootstrap`, `acl token create|list|delete`,
// `acl policy apply|list|delete`.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';

export const aclUsage: Record<string, string> = {
  bootstrap: `clocktower acl bootstrap [--description TEXT]

Turns ACLs on (once) and prints the first management token: its accessor and
its secret. Keep the secret: it is shown this one time. A second bootstrap is
refused.`,
  'token create': `clocktower acl token create --policy NAME [--policy NAME ...] [--description TEXT] [--ttl DURATION] [--json]

Creates a token holding the policies and prints its accessor and secret (shown
this one time).
  --policy NAME       a policy the token holds (repeatable)
  --description TEXT  what the token is for
  --ttl DURATION      the token expires after this long (a Go duration: 30m, 24h, 720h)
  --management        a management token (may do everything; needs a management token)`,
  'token list': `clocktower acl token list [--json]

Lists the tokens: accessor, description, policies, expiry (never the secrets).`,
  'token delete': `clocktower acl token delete ACCESSOR

Deletes a token: from then on its secret is refused.`,
  'token self': `clocktower acl token self [--json]

Shows the token this command sends.`,
  'policy apply': `clocktower acl policy apply NAME -f FILE [--description TEXT]

Creates or replaces the policy NAME from FILE (JSON or YAML; - reads stdin):
  {"description": "...", "jobs": {"etl-": "write", "etl-prod-": "read"}, "operator": "read", "acl": "deny"}
Levels for jobs: deny, read, run, write (the longest matching prefix wins);
for operator and acl: deny, read, write. Dkron Pro's {"path": {...}} form is read too.`,
  'policy list': `clocktower acl policy list [--json]

Lists the policies and their rules.`,
  'policy get': `clocktower acl policy get NAME

Prints the policy NAME as JSON.`,
  'policy delete': `clocktower acl policy delete NAME

Deletes the policy NAME (tokens that hold it keep its name, which then grants nothing).`,
};

export function aclHelp(key?: string, flags = ''): string {
  const one = key !== undefined ? aclUsage[key] : undefined;
  if (one !== undefined) return `Usage: ${one}\n\n${flags}\n`;
  return `Usage: clocktower acl <command> [flags]\n\n${Object.values(aclUsage).map((u) => `  ${u.split('\n')[0] ?? ''}`).join('\n')}\n\nclocktower acl <command> --help describes a command and its flags.\n\n${flags}\n`;
}

export interface AclCommandIo {
  stdout(s: string): void;
  /** Calls the API with the parsed client flags (address, token, TLS). */
  api(values: Record<string, unknown>, method: string, path: string, body?: unknown): Promise<unknown>;
  table(head: string[], rows: unknown[][]): string;
  usageError(message: string): Error;
  /** The client flags every command takes (parseArgs options). */
  commonOptions: Record<string, { type: 'string' | 'boolean'; short?: string }>;
}

interface TokenJson { accessor: string; secret?: string; description: string; policies: string[]; management: boolean; expires_at: string | null; expired: boolean }
interface PolicyJson { name: string; description: string; jobs: Record<string, string>; operator?: string; acl?: string }

/** `argv` starts after `acl`. The usage key of the command, for help on a usage error. */
export function aclKey(argv: readonly string[]): string | undefined {
  const [a, b] = argv;
  if (a === 'bootstrap') return a;
  if ((a === 'token' || a === 'policy') && b !== undefined && aclUsage[`${a} ${b}`]) return `${a} ${b}`;
  return undefined;
}

export async function aclCommand(argv: string[], io: AclCommandIo, flags: string): Promise<number> {
  const [first] = argv;
  if (first === undefined || first === '--help' || first === '-h' || ((first === 'token' || first === 'policy') && (argv[1] === undefined || argv[1] === '--help' || argv[1] === '-h'))) {
    io.stdout(aclHelp(undefined, flags));
    return 0;
  }
  const key = aclKey(argv);
  if (key === undefined) throw io.usageError(`unknown acl command "${argv.slice(0, 2).join(' ')}"`);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv.slice(key.split(' ').length),
      allowPositionals: true,
      strict: true,
      options: {
        ...io.commonOptions,
        policy: { type: 'string', multiple: true },
        description: { type: 'string' },
        ttl: { type: 'string' },
        management: { type: 'boolean' },
        file: { type: 'string', short: 'f' },
      },
    });
  } catch (err) {
    throw io.usageError((err as Error).message);
  }
  const { positionals } = parsed;
  const values = parsed.values as { help?: boolean; json?: boolean; policy?: string[]; description?: string; ttl?: string; management?: boolean; file?: string };
  if (values.help) {
    io.stdout(aclHelp(key, flags));
    return 0;
  }
  const call = (method: string, path: string, body?: unknown) => io.api(values, method, path, body);
  const json = values.json === true;
  const arg = (what: string) => {
    const v = positionals[0];
    if (!v) throw io.usageError(`${what} is required`);
    return encodeURIComponent(v);
  };
  const printToken = (t: TokenJson) => {
    if (json) return io.stdout(`${JSON.stringify(t, null, 2)}\n`);
    io.stdout(`Accessor:    ${t.accessor}\n${t.secret === undefined ? '' : `Secret:      ${t.secret}\n`}Description: ${t.description}\nPolicies:    ${t.management ? '(management)' : t.policies.join(', ')}\nExpires:     ${t.expires_at ?? 'never'}\n`);
  };
  switch (key) {
    case 'bootstrap': {
      const body = values.description === undefined ? {} : { description: values.description };
      printToken((await call('POST', '/v1/acl/bootstrap', body)) as TokenJson);
      return 0;
    }
    case 'token create': {
      const policies = values.policy ?? [];
      if (policies.length === 0 && !values.management) throw io.usageError('--policy NAME is required (or --management)');
      const body: Record<string, unknown> = { policies };
      if (values.description !== undefined) body['description'] = values.description;
      if (values.ttl !== undefined) body['ttl'] = values.ttl;
      if (values.management) body['management'] = true;
      printToken((await call('POST', '/v1/acl/tokens', body)) as TokenJson);
      return 0;
    }
    case 'token self':
      printToken((await call('GET', '/v1/acl/token/self')) as TokenJson);
      return 0;
    case 'token list': {
      const list = (await call('GET', '/v1/acl/tokens')) as TokenJson[];
      if (json) io.stdout(`${JSON.stringify(list, null, 2)}\n`);
      else io.stdout(io.table(['ACCESSOR', 'DESCRIPTION', 'POLICIES', 'EXPIRES'], list.map((t) => [
        t.accessor, t.description, t.management ? '(management)' : t.policies.join(','), t.expired ? `expired ${t.expires_at ?? ''}` : (t.expires_at ?? 'never'),
      ])));
      return 0;
    }
    case 'token delete':
      await call('DELETE', `/v1/acl/tokens/${arg('an ACCESSOR')}`);
      io.stdout(`deleted token ${positionals[0] ?? ''}\n`);
      return 0;
    case 'policy apply': {
      const name = arg('a policy NAME');
      const file = values.file;
      if (!file) throw io.usageError('-f FILE is required');
      const text = readFileSync(file === '-' ? 0 : file, 'utf8');
      let doc: unknown;
      try {
        doc = parseYaml(text);
      } catch (err) {
        throw new Error(`${file} is neither JSON nor YAML: ${(err as Error).message}`);
      }
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${file} must hold one policy object`);
      const body = values.description === undefined ? doc : { ...doc, description: values.description };
      const p = (await call('POST', `/v1/acl/policies/${name}`, body)) as PolicyJson;
      io.stdout(`applied policy ${p.name}\n`);
      return 0;
    }
    case 'policy get':
      io.stdout(`${JSON.stringify(await call('GET', `/v1/acl/policies/${arg('a policy NAME')}`), null, 2)}\n`);
      return 0;
    case 'policy list': {
      const list = (await call('GET', '/v1/acl/policies')) as PolicyJson[];
      if (json) io.stdout(`${JSON.stringify(list, null, 2)}\n`);
      else io.stdout(io.table(['NAME', 'DESCRIPTION', 'JOBS', 'OPERATOR', 'ACL'], list.map((p) => [
        p.name, p.description, Object.entries(p.jobs).map(([k, v]) => `${k === '' ? '*' : `${k}*`}=${v}`).join(' '), p.operator ?? '-', p.acl ?? '-',
      ])));
      return 0;
    }
    default:
      await call('DELETE', `/v1/acl/policies/${arg('a policy NAME')}`);
      io.stdout(`deleted policy ${positionals[0] ?? ''}\n`);
      return 0;
  }
}
