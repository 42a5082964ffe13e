// JSON <-> message objects for the grpc executor, driven by the message
// descriptors that @grpc/proto-loader puts in a package definition.
//
// proto-loader serializes plain objects keyed by the descriptor's field names
// (snake_case for protoc-built descriptors). A request body may use either
// those names or the proto3 JSON names (lowerCamelCase), as grpcurl accepts;
// unknown fields and values of the wrong kind are errors that name the field.
// Responses are written with the JSON names, as grpcurl prints them. The
// well-known Timestamp, Duration and wrapper types take their JSON forms both
// ways; Struct, Value, ListValue, Any and FieldMask do not (they go as the
// plain messages they are).

import type { MessageTypeDefinition, PackageDefinition } from '@grpc/proto-loader';

interface FieldDescriptor {
  readonly name: string;
  readonly jsonName?: string;
  readonly number: number;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
  readonly proto3Optional?: boolean;
}

interface EnumDescriptor {
  readonly name: string;
  readonly value: readonly { readonly name: string; readonly number: number }[];
}

interface MessageDescriptor {
  readonly name: string;
  readonly field: readonly FieldDescriptor[];
  readonly oneofDecl?: readonly unknown[];
  readonly enumType?: readonly EnumDescriptor[];
  readonly nestedType?: readonly MessageDescriptor[];
  readonly options?: { readonly mapEntry?: boolean } | null;
}

/** protoc's json_name: drop underscores, capitalise the letter after each. */
export function jsonNameOf(name: string): string {
  let out = '';
  let upper = false;
  for (const ch of name) {
    if (ch === '_') upper = true;
    else {
      out += upper ? ch.toUpperCase() : ch;
      upper = false;
    }
  }
  return out;
}

const numeric = new Set(['TYPE_DOUBLE', 'TYPE_FLOAT', 'TYPE_INT32', 'TYPE_UINT32', 'TYPE_SINT32', 'TYPE_FIXED32', 'TYPE_SFIXED32',
  'TYPE_INT64', 'TYPE_UINT64', 'TYPE_SINT64', 'TYPE_FIXED64', 'TYPE_SFIXED64']);

const wrapperDefaults: Record<string, unknown> = {
  'google.protobuf.DoubleValue': 0, 'google.protobuf.FloatValue': 0, 'google.protobuf.Int64Value': '0', 'google.protobuf.UInt64Value': '0',
  'google.protobuf.Int32Value': 0, 'google.protobuf.UInt32Value': 0, 'google.protobuf.BoolValue': false, 'google.protobuf.StringValue': '',
  'google.protobuf.BytesValue': '',
};

/** Nanoseconds as proto3 JSON writes a fraction: 0, 3, 6 or 9 digits. */
function fraction(nanos: number): string {
  if (!nanos) return '';
  const digits = String(Math.abs(nanos)).padStart(9, '0');
  return `.${digits.endsWith('000000') ? digits.slice(0, 3) : digits.endsWith('000') ? digits.slice(0, 6) : digits}`;
}

/**
 * The well-known types' JSON forms: Timestamp as RFC 3339 text, Duration as
 * "1.5s", wrappers as bare values. undefined when `value` is not one.
 */
function wellKnownToMessage(typeName: string, value: unknown, where: string): Record<string, unknown> | undefined {
  if (typeName === 'google.protobuf.Timestamp' && typeof value === 'string') {
    const ms = Date.parse(value.replace(/\.\d+/, ''));
    if (Number.isNaN(ms) || !/(Z|[+-]\d\d:\d\d)$/i.test(value)) throw new Error(`${where} must be an RFC 3339 time such as 2024-01-02T03:04:05Z, not ${JSON.stringify(value)}`);
    const digits = /\.(\d{1,9})/.exec(value)?.[1] ?? '';
    return { seconds: String(Math.floor(ms / 1000)), nanos: Number(digits.padEnd(9, '0')) };
  }
  if (typeName === 'google.protobuf.Duration' && typeof value === 'string') {
    const m = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(value.trim());
    if (!m) throw new Error(`${where} must be a duration such as "1.5s", not ${JSON.stringify(value)}`);
    const sign = m[1] ? -1 : 1;
    return { seconds: `${m[1] ?? ''}${m[2]}`, nanos: sign * Number((m[3] ?? '').padEnd(9, '0')) };
  }
  if (typeName in wrapperDefaults && (typeof value !== 'object' || value === null)) return { value };
  return undefined;
}

function wellKnownToJson(typeName: string, value: Record<string, unknown>): unknown {
  if (typeName === 'google.protobuf.Timestamp') {
    const seconds = Number(value['seconds'] ?? 0);
    return `${new Date(seconds * 1000).toISOString().replace(/\.\d+Z$/, '')}${fraction(Number(value['nanos'] ?? 0))}Z`;
  }
  if (typeName === 'google.protobuf.Duration') {
    const seconds = String(value['seconds'] ?? '0');
    const nanos = Number(value['nanos'] ?? 0);
    return `${nanos < 0 && !seconds.startsWith('-') ? '-' : ''}${seconds}${fraction(nanos)}s`;
  }
  if (typeName in wrapperDefaults) return value['value'] ?? wrapperDefaults[typeName];
  return undefined;
}

export class ProtoJson {
  private readonly messages = new Map<string, MessageDescriptor>();
  private readonly enums = new Map<string, EnumDescriptor>();

  constructor(definition: PackageDefinition) {
    for (const [name, entry] of Object.entries(definition)) {
      const t = entry as Partial<MessageTypeDefinition<object, object>>;
      if (typeof t.format !== 'string') continue;
      if (t.format.endsWith(' DescriptorProto')) this.index(name, t.type as unknown as MessageDescriptor);
      else if (t.format.endsWith(' EnumDescriptorProto') && !this.enums.has(name)) this.enums.set(name, t.type as unknown as EnumDescriptor);
    }
  }

  private index(fullName: string, type: MessageDescriptor): void {
    if (!this.messages.has(fullName)) this.messages.set(fullName, type);
    for (const nested of type.nestedType ?? []) this.index(`${fullName}.${nested.name}`, nested);
    for (const e of type.enumType ?? []) if (!this.enums.has(`${fullName}.${e.name}`)) this.enums.set(`${fullName}.${e.name}`, e);
  }

  /** The type named `typeName` as seen from inside message `scope` (protobuf's scoping rules). */
  private lookup<T>(types: Map<string, T>, typeName: string, scope: string): [string, T] | undefined {
    if (typeName.startsWith('.')) {
      const found = types.get(typeName.slice(1));
      return found ? [typeName.slice(1), found] : undefined;
    }
    const parts = scope.split('.');
    for (let i = parts.length; i >= 0; i--) {
      const candidate = [...parts.slice(0, i), typeName].join('.');
      const found = types.get(candidate);
      if (found) return [candidate, found];
    }
    return undefined;
  }

  private resolve(typeName: string, scope: string): [string, MessageDescriptor] | undefined {
    return this.lookup(this.messages, typeName, scope);
  }

  /**
   * Whether a repeated field of message type `nested` is a map. protobufjs
   * keeps the mapEntry option when it parsed the .proto itself (the value is
   * then an object), but drops it when it built the types from reflected
   * descriptors (the value is then an array of {key, value} entries), so a
   * nested "XEntry" type with just key = 1 and value = 2 counts as a map too.
   */
  private mapKind(nested: [string, MessageDescriptor] | undefined, scope: string): 'object' | 'entries' | undefined {
    if (!nested) return undefined;
    const [fullName, type] = nested;
    if (type.options?.mapEntry) return 'object';
    const [k, v, ...rest] = type.field;
    const entryLike = rest.length === 0 && k?.name === 'key' && k.number === 1 && v?.name === 'value' && v.number === 2;
    return entryLike && type.name.endsWith('Entry') && fullName === `${scope}.${type.name}` ? 'entries' : undefined;
  }

  /** The request body (parsed JSON) as an object proto-loader can serialize; throws an Error naming the bad field. */
  toMessage(typeName: string, value: unknown, path = ''): Record<string, unknown> {
    const known = wellKnownToMessage(typeName, value, path || 'the body');
    if (known) return known;
    const type = this.messages.get(typeName);
    if (!type) return value as Record<string, unknown>; // unknown to us: leave it to protobufjs
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${path || 'the body'} must be a JSON object (message ${typeName})`);
    }
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const field = type.field.find((f) => f.name === key || f.jsonName === key || jsonNameOf(f.name) === key);
      const where = path ? `${path}.${key}` : key;
      if (!field) throw new Error(`unknown field "${where}" in message ${typeName} (fields: ${type.field.map((f) => jsonNameOf(f.name)).join(', ') || 'none'})`);
      if (v === null) continue;
      out[field.name] = this.fieldToMessage(field, typeName, v, where);
    }
    return out;
  }

  private fieldToMessage(field: FieldDescriptor, scope: string, v: unknown, where: string): unknown {
    const nested = field.type === 'TYPE_MESSAGE' ? this.resolve(field.typeName, scope) : undefined;
    if (field.label === 'LABEL_REPEATED') {
      const kind = this.mapKind(nested, scope);
      if (nested && kind) {
        if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where} must be a JSON object (a map)`);
        const valueField = nested[1].field.find((f) => f.number === 2);
        const entries = Object.entries(v as object).map(([k, item]) => [k, valueField ? this.single(valueField, nested[0], item, `${where}.${k}`) : item] as const);
        return kind === 'object' ? Object.fromEntries(entries) : entries.map(([key, value]) => ({ key, value }));
      }
      if (!Array.isArray(v)) throw new Error(`${where} must be a JSON array`);
      return v.map((item, i) => this.single(field, scope, item, `${where}[${i}]`));
    }
    return this.single(field, scope, v, where);
  }

  private single(field: FieldDescriptor, scope: string, v: unknown, where: string): unknown {
    if (field.type === 'TYPE_MESSAGE') {
      const nested = this.resolve(field.typeName, scope);
      return nested ? this.toMessage(nested[0], v, where) : v;
    }
    if (numeric.has(field.type)) {
      const ok = typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) || v === 'NaN' || v === 'Infinity' || v === '-Infinity';
      if (!ok) throw new Error(`${where} must be a number, not ${JSON.stringify(v)}`);
    } else if (field.type === 'TYPE_BOOL') {
      if (typeof v !== 'boolean') throw new Error(`${where} must be true or false, not ${JSON.stringify(v)}`);
    } else if (field.type === 'TYPE_STRING' || field.type === 'TYPE_BYTES') {
      if (typeof v !== 'string') throw new Error(`${where} must be a string${field.type === 'TYPE_BYTES' ? ' (base64)' : ''}, not ${JSON.stringify(v)}`);
    } else if (field.type === 'TYPE_ENUM') {
      if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`${where} must be an enum name or number, not ${JSON.stringify(v)}`);
    }
    return v;
  }

  /**
   * A proto3 scalar without presence holding its default, which proto3 JSON
   * leaves out (some servers send such fields anyway). Only in messages
   * without oneofs: the descriptors at hand cannot tell a oneof member apart.
   */
  private isImplicitDefault(typeName: string, type: MessageDescriptor, field: FieldDescriptor, v: unknown): boolean {
    if (field.label === 'LABEL_REPEATED' || field.type === 'TYPE_MESSAGE' || field.proto3Optional || (type.oneofDecl?.length ?? 0) > 0) return false;
    if (field.type === 'TYPE_ENUM') return v === 0 || v === this.lookup(this.enums, field.typeName, typeName)?.[1].value.find((e) => e.number === 0)?.name;
    return v === '' || v === 0 || v === false || v === '0';
  }

  /** A decoded response (proto-loader's object) with JSON field names. */
  toJson(typeName: string, value: unknown): unknown {
    if (typeof value !== 'object' || value === null) return value;
    const known = wellKnownToJson(typeName, value as Record<string, unknown>);
    if (known !== undefined) return known;
    const type = this.messages.get(typeName);
    if (!type) return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const field = type.field.find((f) => f.name === key);
      if (!field) {
        out[key] = v;
        continue;
      }
      if (this.isImplicitDefault(typeName, type, field, v)) continue;
      const nested = field.type === 'TYPE_MESSAGE' ? this.resolve(field.typeName, typeName) : undefined;
      const name = field.jsonName || jsonNameOf(field.name);
      if (!nested) out[name] = v;
      else if (this.mapKind(nested, typeName)) {
        const valueField = nested[1].field.find((f) => f.number === 2);
        const valueType = valueField?.type === 'TYPE_MESSAGE' ? this.resolve(valueField.typeName, nested[0]) : undefined;
        const entries: [string, unknown][] = Array.isArray(v)
          ? v.map((e: { key?: unknown; value?: unknown }) => [String(e.key ?? ''), e.value])
          : Object.entries(v as object);
        out[name] = Object.fromEntries(entries.map(([k, item]) => [k, valueType ? this.toJson(valueType[0], item) : item]));
      } else if (Array.isArray(v)) out[name] = v.map((item) => this.toJson(nested[0], item));
      else out[name] = this.toJson(nested[0], v);
    }
    return out;
  }
}
