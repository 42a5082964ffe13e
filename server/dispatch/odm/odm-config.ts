// The `odm` executor's settings: the registered executor services
// (`odm_executors`, as ODM configures them) and a job's executor_config.

import { DurationError, parseGoDurationMs } from '../../../common/go-duration.js';

export interface OdmService {
  readonly active: boolean;
  /** Base URL: tasks go to {address}/api/v1/up/executor/tasks. */
  readonly address: string;
  readonly checkAfterCallback: boolean;
}

export type OdmServices = Readonly<Record<string, OdmService>>;

export interface OdmJobConfig {
  /** A registered service's name, or "" when `address` is given. */
  readonly service: string;
  readonly address: string;
  readonly taskType: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly timeoutMs: number;
}

export const odmExecutorName = 'odm';
export const defaultOdmTimeoutMs = 3_600_000;
const configKeys = ['service', 'address', 'taskType', 'parameters', 'timeout'];

/** What `{{name}}` in `parameters` stands for, for one execution. */
export interface OdmTemplateValues {
  readonly job_name: string;
  readonly execution_id: string;
  /** ISO 8601. */
  readonly scheduled_at: string;
  readonly attempt: number;
}

const templateNames = ['job_name', 'execution_id', 'scheduled_at', 'attempt'];
const templatePattern = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;

/** Replace `{{name}}` with its value, escaped for a JSON string; an unknown name is an error message. */
export function fillTemplate(text: string, values: OdmTemplateValues): string | { error: string } {
  let unknown: string | null = null;
  const out = text.replace(templatePattern, (_, name: string) => {
    if (!templateNames.includes(name)) {
      unknown ??= name;
      return '';
    }
    return JSON.stringify(String(values[name as keyof OdmTemplateValues])).slice(1, -1);
  });
  return unknown === null ? out : { error: `odm: "parameters": unknown template {{${String(unknown)}}} (known: ${templateNames.map((n) => `{{${n}}}`).join(', ')})` };
}

const sampleValues: OdmTemplateValues = { job_name: 'job', execution_id: '1', scheduled_at: '2000-01-01T00:00:00.000Z', attempt: 1 };

/** A job's executor_config, checked; a message saying what is wrong otherwise. With `values`, templates in `parameters` are filled. */
export function parseOdmJobConfig(config: Readonly<Record<string, string>>, values: OdmTemplateValues = sampleValues): OdmJobConfig | string {
  for (const key of Object.keys(config)) {
    if (!configKeys.includes(key)) return `odm: unknown executor_config key "${key}" (known: ${configKeys.join(', ')})`;
  }
  const service = (config['service'] ?? '').trim();
  const address = (config['address'] ?? '').trim();
  const taskType = (config['taskType'] ?? '').trim();
  if (taskType === '') return 'odm: executor_config needs "taskType": the kind of task the executor service runs';
  if (service === '' && address === '') return 'odm: executor_config needs "service" (a name in odm_executors) or "address" (the service\'s URL)';
  if (service !== '' && address !== '') return 'odm: give "service" or "address" in executor_config, not both';
  if (address !== '') {
    const bad = checkUrl(address);
    if (bad !== null) return `odm: "address": ${bad}`;
  }
  let parameters: Record<string, unknown> = {};
  const filled = fillTemplate(config['parameters'] ?? '', values);
  if (typeof filled !== 'string') return filled.error;
  const text = filled;
  if (text.trim() !== '') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return `odm: "parameters" must be a JSON object as a string: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'odm: "parameters" must be a JSON object as a string, e.g. "{\\"branch\\":\\"main\\"}"';
    parameters = value as Record<string, unknown>;
  }
  let timeoutMs = defaultOdmTimeoutMs;
  const timeout = config['timeout'];
  if (timeout !== undefined && timeout.trim() !== '') {
    try {
      timeoutMs = parseGoDurationMs(timeout);
    } catch (err) {
      return `odm: "timeout": ${err instanceof DurationError ? err.message : String(err)}`;
    }
    if (timeoutMs <= 0) return 'odm: "timeout" must be above 0, e.g. 30m';
  }
  return { service, address: address.replace(/\/+$/, ''), taskType, parameters, timeoutMs };
}

/** `odm_executors` from a config file (an object) or a flag / environment variable (its JSON). */
export function parseOdmServices(value: unknown): OdmServices | string {
  let v = value;
  if (typeof v === 'string') {
    if (v.trim() === '') return {};
    try {
      v = JSON.parse(v);
    } catch (err) {
      return `odm_executors must be a JSON object: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'odm_executors must be an object: {"NAME": {"active": true, "address": "http://host:port", "checkAfterCallback": false}}';
  const out: Record<string, OdmService> = {};
  for (const [name, entry] of Object.entries(v as Record<string, unknown>)) {
    const where = `odm_executors.${name}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return `${where} must be an object with "address"`;
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!['active', 'address', 'checkAfterCallback'].includes(key)) return `${where}: unknown key "${key}" (known: active, address, checkAfterCallback)`;
    }
    if (typeof e['address'] !== 'string') return `${where}.address must be a URL string`;
    const bad = checkUrl(e['address']);
    if (bad !== null) return `${where}.address: ${bad}`;
    for (const key of ['active', 'checkAfterCallback']) {
      if (e[key] !== undefined && typeof e[key] !== 'boolean') return `${where}.${key} must be true or false`;
    }
    out[name] = { active: e['active'] !== false, address: e['address'].replace(/\/+$/, ''), checkAfterCallback: e['checkAfterCallback'] === true };
  }
  return out;
}

function checkUrl(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${JSON.stringify(text)} is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${JSON.stringify(text)} is not an http(s) URL`;
  return null;
}
