// JSON <-> message objects for the grpc executor, driven by the message
// descriptors that @grpc/proto-loader puts in a package definition.
//
// proto-loader serializes plain objects keyed by the descriptor's field names
// (snake_case for protoc-built descriptors). A request body may use either
// those names or the proto3 JSON names (lowerCamelCase), as grpcurl accepts;
// unknown fields and values of the wrong kind are errors that name the field.
// Responses are written with the JSON names, as grpcurl prints them.

import type { MessageTypeDefinition, PackageDefinition } from '@grpc/proto-loader';

interface FieldDescriptor {
  readonly name: string;
  readonly jsonName?: string;
  readonly number: number;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
}

interface MessageDescriptor {
  readonly name: string;
  readonly field: readonly FieldDescriptor[];
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

export class ProtoJson {
  private readonly messages = new Map<string, MessageDescriptor>();

  constructor(definition: PackageDefinition) {
    for (const [name, entry] of Object.entries(definition)) {
      const t = entry as Partial<MessageTypeDefinition<object, object>>;
      if (typeof t.format === 'string' && t.format.endsWith(' DescriptorProto')) this.index(name, t.type as unknown as MessageDescriptor);
    }
  }

  private index(fullName: string, type: MessageDescriptor): void {
    if (!this.messages.has(fullName)) this.messages.set(fullName, type);
    for (const nested of type.nestedType ?? []) this.index(`${fullName}.${nested.name}`, nested);
  }

  /** The message named `typeName` as seen from inside message `scope` (protobuf's scoping rules). */
  private resolve(typeName: string, scope: string): [string, MessageDescriptor] | undefined {
    if (typeName.startsWith('.')) {
      const found = this.messages.get(typeName.slice(1));
      return found ? [typeName.slice(1), found] : undefined;
    }
    const parts = scope.split('.');
    for (let i = parts.length; i >= 0; i--) {
      const candidate = [...parts.slice(0, i), typeName].join('.');
      const found = this.messages.get(candidate);
      if (found) return [candidate, found];
    }
    return undefined;
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

  /** A decoded response (proto-loader's object) with JSON field names. */
  toJson(typeName: string, value: unknown): unknown {
    const type = this.messages.get(typeName);
    if (!type || typeof value !== 'object' || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const field = type.field.find((f) => f.name === key);
      if (!field) {
        out[key] = v;
        continue;
      }
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
