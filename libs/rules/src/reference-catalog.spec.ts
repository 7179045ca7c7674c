import * as avro from 'avsc';
import { EVENT_TYPES, EVENT_TYPE_IDS, contractType } from '@triggers/contracts';
import { PAYLOAD_SHAPES, shapePaths } from './reference-catalog';

/** Every path of an Avro type, `*` for map and array entries, Absent and null branches skipped. */
function avroPaths(type: avro.Type, prefix = ''): string[] {
  const t = type as avro.Type & { types?: avro.Type[]; fields?: { name: string; type: avro.Type }[]; valuesType?: avro.Type; itemsType?: avro.Type };
  if (t.types) return [...new Set(t.types.flatMap((b) => avroPaths(b, prefix)))];
  const join = (k: string) => (prefix ? `${prefix}.${k}` : k);
  if (t.fields) return t.fields.flatMap((f) => [join(f.name), ...avroPaths(f.type, join(f.name))]);
  if (t.valuesType) return [join('*'), ...avroPaths(t.valuesType, join('*'))];
  if (t.itemsType) return [join('*'), ...avroPaths(t.itemsType, join('*'))];
  return [];
}

describe('the reference catalog', () => {
  it.each(EVENT_TYPE_IDS)('knows exactly the fields the Avro schema of %s has', (type) => {
    const envelope = contractType(EVENT_TYPES[type].schema) as avro.Type & { fields: { name: string; type: avro.Type }[] };
    const payload = envelope.fields.find((f) => f.name === 'payload')!.type;
    expect(shapePaths(PAYLOAD_SHAPES[type]).sort()).toEqual([...new Set(avroPaths(payload))].sort());
  });
});
