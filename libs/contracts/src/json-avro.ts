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

/** A JSON object (not null, not a list): what an event, a payload or a trigger must be. */
export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const describe = (v: unknown) => (v === undefined ? 'absent' : v === null ? 'null' : Array.isArray(v) ? 'a list' : `a ${typeof v}`);

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
  // The compiled writer is the fast path; the walk below runs for notes, and to name the path
  // of a value the writer refused.
  if (!notes && path === '') {
    try {
      return writerFor(type)(value);
    } catch (err) {
      if (!(err instanceof ContractError)) throw err;
    }
  }
  return convert(type, value, path, notes);
}

function convert(type: Type, value: unknown, path: string, notes?: ConversionNotes): unknown {
  if (isUnion(type)) {
    const branch = pickBranch(type.types, value, path);
    if (branch.typeName === 'null') return null;
    if (value === undefined) return { [branch.branchName!]: ABSENT_SYMBOL };
    return { [branch.branchName!]: convert(branch, value, path, notes) };
  }
  if (type instanceof RecordType) {
    if (!isPlainObject(value)) throw new ContractError(`expected an object, got ${describe(value)}`, path);
    const out: Record<string, unknown> = {};
    for (const field of type.fields) {
      out[field.name] = convert(field.type, value[field.name], join(path, field.name), notes);
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
    for (const [key, v] of Object.entries(value)) out[key] = convert(type.valuesType, v, join(path, key), notes);
    return out;
  }
  if (type instanceof ArrayType) {
    if (!Array.isArray(value)) throw new ContractError(`expected a list, got ${describe(value)}`, path);
    return value.map((v, i) => convert(type.itemsType, v, join(path, String(i)), notes));
  }
  if (value === undefined) throw new ContractError('is required but absent', path);
  if (!type.isValid(value)) {
    throw new ContractError(`expected ${type.typeName}, got ${describe(value)} ${JSON.stringify(value)}`, path);
  }
  return value;
}

/** A conversion of one value, compiled once per Avro type. */
type Conversion = (value: unknown) => unknown;

/**
 * The conversion `compile` makes for `type`, made once and kept. It is registered before its
 * children are compiled, so recursive types resolve to the same conversion.
 */
function compiledFor(cache: WeakMap<Type, Conversion>, type: Type, compile: (type: Type) => Conversion): Conversion {
  let conversion = cache.get(type);
  if (conversion) return conversion;
  let compiled: Conversion = () => {
    throw new Error('conversion used before it was compiled');
  };
  conversion = (v) => compiled(v);
  cache.set(type, conversion);
  compiled = compile(type);
  return conversion;
}

type Writer = Conversion;
const writers = new WeakMap<Type, Writer>();
const refused = () => new ContractError('does not fit', '');
const writerFor = (type: Type): Writer => compiledFor(writers, type, compileWriter);

const boxes = new Map<string, (v: unknown) => unknown>();
/** Wraps a value as the union branch `name`, `{ [name]: v }`, as a generated literal of constant shape (cached by name). */
function boxFor(name: string): (v: unknown) => unknown {
  let box = boxes.get(name);
  if (!box) boxes.set(name, (box = new Function('v', `return { ${JSON.stringify(name)}: v };`) as (v: unknown) => unknown));
  return box;
}

/** The conversion of {@link jsonToAvro}, compiled once per type into closures; throws a bare ContractError. */
function compileWriter(type: Type): Writer {
  if (isUnion(type)) {
    const named = (t: Type | undefined) =>
      t ? { name: t.branchName!, box: boxFor(t.branchName!), write: t instanceof EnumType ? (v: unknown) => v : writerFor(t), type: t } : undefined;
    const types = type.types;
    const absent = types.find((t) => t instanceof EnumType && t.name === ABSENT_TYPE);
    const hasNull = types.some((t) => t.typeName === 'null');
    const str = named(types.find((t) => t.typeName === 'string'));
    const enums = types.filter((t) => t instanceof EnumType && t.name !== ABSENT_TYPE);
    const bool = named(types.find((t) => t.typeName === 'boolean'));
    const integer = named(
      types.find((t) => t.typeName === 'long' || t.typeName === 'int') ?? types.find((t) => t.typeName === 'double' || t.typeName === 'float'),
    );
    const float = named(types.find((t) => t.typeName === 'double' || t.typeName === 'float'));
    const array = named(types.find((t) => t instanceof ArrayType));
    const object = named(types.find((t) => t instanceof RecordType) ?? types.find((t) => t instanceof MapType));
    const wrap = (b: ReturnType<typeof named>, v: unknown) => {
      if (!b) throw refused();
      return b.box(b.write(v));
    };
    const boxAbsent = absent ? boxFor(absent.branchName!) : undefined;
    return (v) => {
      if (v === undefined) {
        if (!boxAbsent) throw refused();
        return boxAbsent(ABSENT_SYMBOL);
      }
      if (v === null) {
        if (!hasNull) throw refused();
        return null;
      }
      switch (typeof v) {
        case 'string': {
          if (str) return str.box(v);
          const e = enums.find((t) => t.isValid(v));
          if (!e) throw refused();
          return boxFor(e.branchName!)(v);
        }
        case 'boolean':
          return wrap(bool, v);
        case 'number':
          return wrap(Number.isInteger(v) ? integer : float, v);
        default:
          return wrap(Array.isArray(v) ? array : object, v);
      }
    };
  }
  if (type instanceof RecordType) {
    // Generated, as the reader's: one object literal of the record's fields, in schema order.
    const fields = type.fields.map((f) => ({ name: f.name, write: writerFor(f.type) }));
    const literal = fields.map((f, i) => `${JSON.stringify(f.name)}: w[${i}](v[${JSON.stringify(f.name)}])`).join(',\n');
    const make = new Function(
      'w',
      'isPlainObject',
      'refused',
      `return function writeRecord(v) { if (!isPlainObject(v)) throw refused(); return {\n${literal}\n}; };`,
    );
    return make(
      fields.map((f) => f.write),
      isPlainObject,
      refused,
    ) as Writer;
  }
  if (type instanceof MapType) {
    const write = writerFor(type.valuesType);
    return (v) => {
      if (!isPlainObject(v)) throw refused();
      const out: Record<string, unknown> = {};
      for (const key in v) out[key] = write(v[key]);
      return out;
    };
  }
  if (type instanceof ArrayType) {
    const write = writerFor(type.itemsType);
    return (v) => {
      if (!Array.isArray(v)) throw refused();
      return v.map(write);
    };
  }
  if (type.typeName === 'string') {
    return (v) => {
      if (typeof v !== 'string') throw refused();
      return v;
    };
  }
  return (v) => {
    if (v === undefined || !type.isValid(v)) throw refused();
    return v;
  };
}

/**
 * Turns a value avsc decoded (with `wrapUnions: true`) back into the producer's JSON: union
 * wrappers are removed and fields holding the Absent branch are dropped, in schema field order.
 * The conversion is compiled once per type into nested closures (it runs for every event).
 */
export function avroToJson(type: Type, value: unknown): unknown {
  return readerFor(type)(value);
}

type Reader = Conversion;
const readers = new WeakMap<Type, Reader>();
const readerFor = (type: Type): Reader => compiledFor(readers, type, compileReader);

/**
 * A record's reader as generated code, as avsc generates its own: each field is read and stored
 * by its name as a constant (a store the JIT caches, where a computed one is a slow dictionary
 * write), and a field holding the Absent branch is left out. Names go into the code as JSON
 * string literals (they are Avro names, checked by avsc, in any case).
 */
function compileRecordReader(fields: { name: string; read: Reader }[]): Reader {
  const body = fields.map((f, i) => `v = r[${i}](rec[${JSON.stringify(f.name)}]); if (v !== ABSENT) out[${JSON.stringify(f.name)}] = v;`).join('\n');
  const make = new Function('r', 'ABSENT', `return function readRecord(rec) { const out = {}; let v;\n${body}\nreturn out; };`) as (
    r: Reader[],
    absent: symbol,
  ) => Reader;
  return make(
    fields.map((f) => f.read),
    ABSENT,
  );
}

function compileReader(type: Type): Reader {
  if (isUnion(type)) {
    const byBranch = new Map<string, Reader>();
    // avsc reads each branch as an instance of that branch type's own class (`constructor.type`):
    // found by identity, not by enumerating the wrapper's one key.
    const byType = new Map<Type, Reader>();
    for (const branch of type.types) {
      if (branch.typeName === 'null') continue;
      const read = branch instanceof EnumType && branch.name === ABSENT_TYPE ? () => ABSENT : readerFor(branch);
      byBranch.set(branch.branchName!, read);
      byType.set(branch, read);
    }
    return (value) => {
      if (value === null) return null;
      const wrapped = value as { constructor: { type?: Type }; unwrap?: () => unknown };
      const read = byType.get(wrapped.constructor.type!);
      if (read && wrapped.unwrap) return read(wrapped.unwrap());
      for (const key in value as Record<string, unknown>) {
        const byName = byBranch.get(key);
        if (!byName) throw new ContractError(`unknown union branch ${key}`, '');
        return byName((value as Record<string, unknown>)[key]);
      }
      throw new ContractError('empty union value', '');
    };
  }
  if (type instanceof RecordType) return compileRecordReader(type.fields.map((f) => ({ name: f.name, read: readerFor(f.type) })));
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
  else if (typeof value === 'string')
    branch = find((t) => t.typeName === 'string') ?? find((t) => t instanceof EnumType && t.name !== ABSENT_TYPE && t.isValid(value));
  else if (typeof value === 'boolean') branch = find((t) => t.typeName === 'boolean');
  else if (typeof value === 'number') {
    branch = Number.isInteger(value)
      ? (find((t) => t.typeName === 'long' || t.typeName === 'int') ?? find((t) => t.typeName === 'double' || t.typeName === 'float'))
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
