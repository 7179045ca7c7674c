import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContractError } from './contract-error';
import { EVENT_TYPES, EventType } from './event-types';
import { decodeJson, encodeJson } from './avro-types';
import { KAFKA_TOPICS, TOPIC_KEYS } from './topics';
import { schemaCatalog, contractType } from './avro-types';
import { avroToJson, jsonToAvro } from './json-avro';

const payloadDir = join(__dirname, '../../../../shared/spec/payloads');
const specFiles = readdirSync(payloadDir)
  .filter((f) => f.endsWith('.json'))
  .sort();

const roundTrip = (type: EventType, payload: unknown) => {
  const schema = EVENT_TYPES[type].schema;
  const decoded = decodeJson<{ type: string; payload: unknown }>(schema, encodeJson(schema, { tenantId: 't1', eventId: 'e1', type, payload }));
  return decoded;
};

describe('event contracts: the golden round trip', () => {
  it('covers all eleven spec payloads', () => {
    expect(specFiles).toHaveLength(11);
  });

  it.each(specFiles)('%s comes back byte-equal after Avro', (file) => {
    const spec = JSON.parse(readFileSync(join(payloadDir, file), 'utf8'));
    const decoded = roundTrip(spec.type, spec.payload);
    expect(JSON.stringify({ type: decoded.type, payload: decoded.payload })).toBe(JSON.stringify(spec));
  });
});

describe('the generated conversions', () => {
  it.each(specFiles)('%s: the generated writer builds what the schema walk builds, and reads back from plain wrappers too', (file) => {
    const spec = JSON.parse(readFileSync(join(payloadDir, file), 'utf8'));
    const type = contractType(EVENT_TYPES[spec.type as EventType].schema);
    const event = { tenantId: 't1', eventId: 'e1', ...spec };
    // With notes asked for, jsonToAvro walks the schema instead of running the generated writer.
    const generated = jsonToAvro(type, event);
    expect(generated).toEqual(jsonToAvro(type, event, '', { ignoredFields: [] }));
    // avsc's decoded unions are instances of its branch classes; plain `{ branch: value }` objects read the same.
    const decoded = type.fromBuffer(type.toBuffer(generated));
    const plain = JSON.parse(JSON.stringify(generated));
    expect(JSON.stringify(avroToJson(type, plain))).toBe(JSON.stringify(avroToJson(type, decoded)));
    expect(JSON.stringify((avroToJson(type, decoded) as { payload: unknown }).payload)).toBe(JSON.stringify(spec.payload));
  });
});

describe('absent is not null', () => {
  const predictive = JSON.parse(readFileSync(join(payloadDir, 'predictive-answering-machine.json'), 'utf8')).payload;

  it('keeps a null callId null and an absent callId absent', () => {
    const withNull = roundTrip('outbound.lead.outcome.predictive', { ...predictive, callId: null }).payload as Record<string, unknown>;
    expect(withNull.callId).toBeNull();
    const { callId: _dropped, ...without } = predictive;
    const absent = roundTrip('outbound.lead.outcome.predictive', without).payload as Record<string, unknown>;
    expect('callId' in absent).toBe(false);
  });

  it('keeps lead.outcomes as an object, [] or null, and {} stays {}', () => {
    const preview = JSON.parse(readFileSync(join(payloadDir, 'preview-answering-machine.json'), 'utf8')).payload;
    for (const outcomes of [[], null, {}, { '6': { count: '1', description: 'Answer Machine' } }]) {
      const back = roundTrip('outbound.lead.outcome.preview', { ...preview, lead: { ...preview.lead, outcomes } }).payload as {
        lead: { outcomes: unknown };
      };
      expect(JSON.stringify(back.lead.outcomes)).toBe(JSON.stringify(outcomes));
    }
  });
});

describe('values that do not fit', () => {
  const wrap = JSON.parse(readFileSync(join(payloadDir, 'agent-wrap-inbound.json'), 'utf8')).payload;

  it('names the path of a wrongly typed field', () => {
    expect(() => roundTrip('agent.wrap', { ...wrap, durations: { ...wrap.durations, talk: '54' } })).toThrow(
      new ContractError('expected null or long, got a string "54"', 'payload.durations.talk'),
    );
  });

  it('names a required field that is missing', () => {
    const { campaignId: _gone, ...rest } = wrap;
    expect(() => roundTrip('agent.wrap', rest)).toThrow(/payload.campaignId: is required but absent/);
  });

  it('drops fields the schema does not know and reports them', () => {
    const notes = { ignoredFields: [] as string[] };
    const schema = EVENT_TYPES['agent.wrap'].schema;
    const buf = encodeJson(schema, { tenantId: 't', eventId: 'e', type: 'agent.wrap', payload: { ...wrap, brandNew: 1 } }, notes);
    expect(notes.ignoredFields).toEqual(['payload.brandNew']);
    expect(decodeJson<{ payload: Record<string, unknown> }>(schema, buf).payload.brandNew).toBeUndefined();
  });
});

describe('the schema catalog', () => {
  it('builds every record into a self-contained schema avsc accepts', () => {
    for (const name of schemaCatalog().names()) expect(contractType(name).name).toBe(name);
  });

  it('has a schema for every topic that declares one', () => {
    for (const key of TOPIC_KEYS) {
      const schema = (KAFKA_TOPICS[key] as { valueSchema?: string }).valueSchema;
      if (schema) expect(schemaCatalog().names()).toContain(schema);
    }
  });
});
