import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** A raw Avro schema as written in `schemas/`. */
export type RawSchema = Record<string, unknown>;

/** Finds `schemas/` beside the repository's package.json, from source or compiled code. */
export function findSchemasDir(from = __dirname): string {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, 'schemas');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error(`no schemas/ folder found above ${from}`);
    dir = parent;
  }
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return walk(path);
    return name.endsWith('.avsc') ? [path] : [];
  });
}

const fullName = (schema: RawSchema) => (schema.namespace ? `${schema.namespace}.${schema.name}` : String(schema.name));

/**
 * Every named record of `schemas/` (one file per record), by full name. Files refer to each other
 * by full name; {@link SchemaCatalog.selfContained} inlines those references, because a schema
 * registered with a Confluent-compatible registry must stand on its own.
 */
export class SchemaCatalog {
  private readonly byName = new Map<string, RawSchema>();

  constructor(dir = findSchemasDir()) {
    for (const file of walk(dir)) {
      const schema = JSON.parse(readFileSync(file, 'utf8')) as RawSchema;
      const name = fullName(schema);
      if (this.byName.has(name)) throw new Error(`schema ${name} is defined twice (${file})`);
      this.byName.set(name, schema);
    }
  }

  /** Full names of every schema. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The schema as written in its file. */
  raw(name: string): RawSchema {
    const schema = this.byName.get(name);
    if (!schema) throw new Error(`unknown schema ${name}`);
    return schema;
  }

  /**
   * The schema with every reference to another catalog schema replaced by its definition at its
   * first use (later uses keep the name, as Avro requires).
   */
  selfContained(name: string): RawSchema {
    const defined = new Set<string>();
    const inline = (node: unknown): unknown => {
      if (typeof node === 'string') {
        if (!this.byName.has(node) || defined.has(node)) return node;
        return inline(this.raw(node));
      }
      if (Array.isArray(node)) return node.map(inline);
      if (node && typeof node === 'object') {
        const obj = node as RawSchema;
        if ((obj.type === 'record' || obj.type === 'enum') && typeof obj.name === 'string') {
          defined.add(fullName(obj));
        }
        const out: RawSchema = {};
        for (const [key, value] of Object.entries(obj)) {
          // `default` values are data, not schemas: a default of "ABSENT" is not a type name.
          out[key] = key === 'type' || key === 'items' || key === 'values' || key === 'fields' ? inline(value) : value;
        }
        return out;
      }
      return node;
    };
    return inline(this.raw(name)) as RawSchema;
  }
}
