import * as avro from 'avsc';
import { SchemaCatalog } from './schema-catalog';
import { ConversionNotes, avroToJson, jsonToAvro } from './json-avro';

/**
 * avsc options every side uses. Unions are always wrapped so {@link jsonToAvro} can choose the
 * branch from the JSON value itself: with avsc's default ("auto") a `[Absent, null, string]` union
 * is ambiguous, and `[null, array, map]` unions are left unwrapped.
 */
export const AVRO_OPTIONS: Partial<avro.ForSchemaOptions> = { wrapUnions: true };

let catalog: SchemaCatalog | undefined;
const types = new Map<string, avro.Type>();

/** The catalog of `schemas/`, read once per process. */
export function schemaCatalog(): SchemaCatalog {
  catalog ??= new SchemaCatalog();
  return catalog;
}

/** The avsc type of a catalog schema, built once per process. */
export function contractType(name: string): avro.Type {
  let type = types.get(name);
  if (!type) {
    // A fresh options object per type: avsc stores its name registry on the options it is given.
    type = avro.Type.forSchema(schemaCatalog().selfContained(name) as avro.Schema, { ...AVRO_OPTIONS });
    types.set(name, type);
  }
  return type;
}

/** Encodes JSON with a catalog schema (plain Avro body, no wire-format header). */
export function encodeJson(name: string, value: unknown, notes?: ConversionNotes): Buffer {
  const type = contractType(name);
  return type.toBuffer(jsonToAvro(type, value, '', notes));
}

/** Decodes a plain Avro body written with a catalog schema back to JSON. */
export function decodeJson<T = unknown>(name: string, body: Buffer): T {
  const type = contractType(name);
  return avroToJson(type, type.fromBuffer(body)) as T;
}
