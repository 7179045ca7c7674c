import * as avro from 'avsc';
import { ContractError } from './contract-error';

type Type = avro.Type;
const { RecordType, ArrayType, MapType, EnumType } = avro.types;

/** Union types of avsc carry their branches in `types`; its typings leave that field out. */
type UnionLike = Type & { types: Type[] };
const isUnion = (t: Type): t is UnionLike => t.typeName.startsWith('union');

/** Full name of the enum that marks a field the producer left out (see schemas/common/absent.avsc). */
export const ABSENT_TYPE = 'triggers.common.Absent';
const ABSENT_SYMBOL = 'ABSENT';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const describe = (v: unknown) =>
  v === undefined ? 'absent' : v === null ? 'null' : Array.isArray(v) ? 'a list' : `a ${typeof v}`;

/** What {@link jsonToAvro} noticed but accepted: fields the schema does not know, which are dropped. */
export interface ConversionNotes {
  ignoredFields: string[];
}

/**
 * Turns plain JSON into the value avsc encodes for `type` (created with `wrapUnions: true`):
 * each union branch is chosen by the JSON value's own kind, so strings stay strings, numbers
 * numbers, `[]` an array and `{}` a map, and a missing field becomes the Absent branch.
 * @throws ContractError naming the path of the first value that does not fit.
 */
export function jsonToAvro(type: Type, value: unknown, path = '', notes?: ConversionNotes): unknown {
  if (isUnion(type)) {
    const branch = pickBranch(type.types, value, path);
    if (branch.typeName === 'null') return null;
    if (value === undefined) return { [branch.branchName!]: ABSENT_SYMBOL };
    return { [branch.branchName!]: jsonToAvro(branch, value, path, notes) };
  }
  if (type instanceof RecordType) {
    if (!isPlainObject(value)) throw new ContractError(`expected an object, got ${describe(value)}`, path);
    const out: Record<string, unknown> = {};
    for (const field of type.fields) {
      out[field.name] = jsonToAvro(field.type, value[field.name], join(path, field.name), notes);
    }
    if (notes) {
      const known = new Set(type.fields.map((f) => f.name));
      for (const key of Object.keys(value)) if (!known.has(key)) notes.ignoredFields.push(join(path, key));
    }
    return out;
  }
  if (type instanceof MapType) {
    if (!isPlainObject(value)) throw new ContractError(`expected an object, got ${describe(value)}`, path);
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = jsonToAvro(type.valuesType, v, join(path, key), notes);
    return out;
  }
  if (type instanceof ArrayType) {
    if (!Array.isArray(value)) throw new ContractError(`expected a list, got ${describe(value)}`, path);
    return value.map((v, i) => jsonToAvro(type.itemsType, v, join(path, String(i)), notes));
  }
  if (value === undefined) throw new ContractError('is required but absent', path);
  if (!type.isValid(value)) {
    throw new ContractError(`expected ${type.typeName}, got ${describe(value)} ${JSON.stringify(value)}`, path);
  }
  return value;
}

/**
 * Turns a value avsc decoded (with `wrapUnions: true`) back into the producer's JSON: union
 * wrappers are removed and fields holding the Absent branch are dropped, in schema field order.
 * The conversion is compiled once per type into nested closures (it runs for every event).
 */
export function avroToJson(type: Type, value: unknown): unknown {
  return readerFor(type)(value);
}

type Reader = (value: unknown) => unknown;
const readers = new WeakMap<Type, Reader>();

function readerFor(type: Type): Reader {
  let reader = readers.get(type);
  if (reader) return reader;
  // Registered before compiling children, so recursive types resolve to the same reader.
  let compiled: Reader = () => {
    throw new Error('reader used before it was compiled');
  };
  reader = (v) => compiled(v);
  readers.set(type, reader);
  compiled = compileReader(type);
  return reader;
}

function compileReader(type: Type): Reader {
  if (isUnion(type)) {
    const byBranch = new Map<string, Reader>();
    for (const branch of type.types) {
      if (branch.typeName === 'null') continue;
      byBranch.set(branch.branchName!, branch instanceof EnumType && branch.name === ABSENT_TYPE ? () => ABSENT : readerFor(branch));
    }
    return (value) => {
      if (value === null) return null;
      for (const key in value as Record<string, unknown>) {
        const read = byBranch.get(key);
        if (!read) throw new ContractError(`unknown union branch ${key}`, '');
        return read((value as Record<string, unknown>)[key]);
      }
      throw new ContractError('empty union value', '');
    };
  }
  if (type instanceof RecordType) {
    const fields = type.fields.map((f) => ({ name: f.name, read: readerFor(f.type) }));
    return (value) => {
      const rec = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (let i = 0; i < fields.length; i++) {
        const v = fields[i].read(rec[fields[i].name]);
        if (v !== ABSENT) out[fields[i].name] = v;
      }
      return out;
    };
  }
  if (type instanceof MapType) {
    const read = readerFor(type.valuesType);
    return (value) => {
      const out: Record<string, unknown> = {};
      for (const key in value as Record<string, unknown>) out[key] = read((value as Record<string, unknown>)[key]);
      return out;
    };
  }
  if (type instanceof ArrayType) {
    const read = readerFor(type.itemsType);
    return (value) => (value as unknown[]).map(read);
  }
  if (type instanceof EnumType && type.name === ABSENT_TYPE) return () => ABSENT;
  return (value) => value;
}

const ABSENT = Symbol('absent');

function join(path: string, key: string) {
  return path ? `${path}.${key}` : key;
}

function pickBranch(types: Type[], value: unknown, path: string): Type {
  const find = (pred: (t: Type) => boolean) => types.find(pred);
  let branch: Type | undefined;
  if (value === undefined) {
    branch = find((t) => t instanceof EnumType && t.name === ABSENT_TYPE);
    if (!branch) throw new ContractError('is required but absent', path);
    return branch;
  }
  if (value === null) branch = find((t) => t.typeName === 'null');
  else if (typeof value === 'string') branch = find((t) => t.typeName === 'string') ?? find((t) => t instanceof EnumType && t.name !== ABSENT_TYPE && t.isValid(value));
  else if (typeof value === 'boolean') branch = find((t) => t.typeName === 'boolean');
  else if (typeof value === 'number') {
    branch = Number.isInteger(value)
      ? find((t) => t.typeName === 'long' || t.typeName === 'int') ?? find((t) => t.typeName === 'double' || t.typeName === 'float')
      : find((t) => t.typeName === 'double' || t.typeName === 'float');
  } else if (Array.isArray(value)) branch = find((t) => t instanceof ArrayType);
  else if (isPlainObject(value)) branch = find((t) => t instanceof RecordType) ?? find((t) => t instanceof MapType);
  if (!branch) {
    const expected = types
      .filter((t) => !(t instanceof EnumType && t.name === ABSENT_TYPE))
      .map((t) => (t instanceof RecordType ? 'object' : t instanceof MapType ? 'object' : t instanceof ArrayType ? 'list' : t.typeName))
      .join(' or ');
    throw new ContractError(`expected ${expected}, got ${describe(value)} ${JSON.stringify(value)}`, path);
  }
  return branch;
}
