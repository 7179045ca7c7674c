import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';
import { schemaCatalog } from './avro-types';

/**
 * messages.ts spells the records of schemas/*.avsc as TypeScript types by hand. This keeps the
 * two in step: every interface below has exactly its record's fields, each of the same kind
 * (string, number, boolean, map, array, record) and nullable exactly where the schema's union
 * has null. A string field may be narrowed to literal strings in TypeScript.
 */
const CHECKED: Record<string, string> = {
  TriggerConfigRecord: 'triggers.config.TriggerConfig',
  WebhookCommand: 'triggers.commands.WebhookCommand',
  LeadCommand: 'triggers.commands.LeadCommand',
  HttpExchange: 'triggers.log.HttpExchange',
  LogRecord: 'triggers.log.LogRecord',
};

type Avro = string | { type: string; items?: Avro; values?: Avro; fields?: { name: string; type: Avro }[]; logicalType?: string } | Avro[];

/** A field's kind as Avro says it: `string`, `number|null`, `array<record{a:string,b:number}>`, ... */
function avroKind(t: Avro): string {
  if (Array.isArray(t)) return t.map(avroKind).sort().join('|');
  if (typeof t === 'string') {
    if (t === 'null') return 'null';
    if (t === 'string') return 'string';
    if (t === 'int' || t === 'long' || t === 'double' || t === 'float') return 'number';
    if (t === 'boolean') return 'boolean';
    return avroKind(schemaCatalog().selfContained(t) as Avro);
  }
  if (t.type === 'array') return `array<${avroKind(t.items!)}>`;
  if (t.type === 'map') return `map<${avroKind(t.values!)}>`;
  if (t.type === 'record') return `record{${t.fields!.map((f) => `${f.name}:${avroKind(f.type)}`).join(',')}}`;
  return avroKind(t.type);
}

const source = ts.createSourceFile('messages.ts', readFileSync(join(__dirname, 'messages.ts'), 'utf8'), ts.ScriptTarget.ES2022, true);
const interfaces = new Map<string, ts.InterfaceDeclaration>();
source.forEachChild((n) => {
  if (ts.isInterfaceDeclaration(n)) interfaces.set(n.name.text, n);
});

/** The same kind, read from a TypeScript type. */
function tsKind(t: ts.TypeNode): string {
  if (ts.isUnionTypeNode(t)) {
    const kinds = [...new Set(t.types.map(tsKind))];
    return kinds.sort().join('|');
  }
  if (ts.isLiteralTypeNode(t)) return t.literal.kind === ts.SyntaxKind.NullKeyword ? 'null' : ts.isStringLiteral(t.literal) ? 'string' : 'number';
  if (t.kind === ts.SyntaxKind.StringKeyword) return 'string';
  if (t.kind === ts.SyntaxKind.NumberKeyword) return 'number';
  if (t.kind === ts.SyntaxKind.BooleanKeyword) return 'boolean';
  if (ts.isArrayTypeNode(t)) return `array<${tsKind(t.elementType)}>`;
  if (ts.isTypeLiteralNode(t)) return membersKind(t.members);
  if (ts.isTypeReferenceNode(t)) {
    const name = t.typeName.getText(source);
    if (name === 'Record') return `map<${tsKind(t.typeArguments![1])}>`;
    const declared = interfaces.get(name);
    if (declared) return membersKind(declared.members);
  }
  throw new Error(`messages.ts: a type this check does not read: ${t.getText(source)}`);
}

function membersKind(members: ts.NodeArray<ts.TypeElement>): string {
  return `record{${members
    .filter(ts.isPropertySignature)
    .map((m) => `${m.name.getText(source)}:${tsKind(m.type!)}`)
    .join(',')}}`;
}

describe('messages.ts against schemas/*.avsc', () => {
  it.each(Object.entries(CHECKED))('%s has exactly the fields of %s, of the same kinds', (iface, record) => {
    const declared = interfaces.get(iface);
    expect(declared).toBeDefined();
    const fields = (kind: string) => kind.slice('record{'.length, -1).split(/,(?![^{]*})/);
    expect(fields(membersKind(declared!.members)).sort()).toEqual(fields(avroKind(record)).sort());
  });
});
