import { EVENT_TYPES, ContractError, eventTopicKeyOf } from '@triggers/contracts';
import { AvroSerde, createRegistry } from '@triggers/kafka';
import { specPayloads, useTestContext } from '@triggers/testing';

describe('Avro through the schema registry', () => {
  const ctx = useTestContext({ topics: true });

  it.each(specPayloads().map((p) => [p.file, p] as const))('golden: %s survives Confluent wire-format Avro byte-equal', async (_file, spec) => {
    const wire = await ctx().serde.encode(eventTopicKeyOf(spec.event.type), {
      tenantId: 'tenant-a',
      eventId: 'event-1',
      ...spec.event,
    });
    expect(wire.readUInt8(0)).toBe(0);
    const decoded = await ctx().serde.decode<{ tenantId: string; type: string; payload: unknown }>(wire);
    expect(decoded.schemaName).toBe(EVENT_TYPES[spec.event.type].schema);
    expect(decoded.value.tenantId).toBe('tenant-a');
    expect(JSON.stringify({ type: decoded.value.type, payload: decoded.value.payload })).toBe(JSON.stringify(spec.event));
    expect(JSON.stringify({ type: decoded.value.type, payload: decoded.value.payload })).toBe(JSON.stringify(JSON.parse(spec.text)));
  });

  it('registers each topic under <topic>-value and gets the same id again', async () => {
    const topic = ctx().config.kafka.topics['events.agent.wrap'];
    const first = await ctx().serde.register('events.agent.wrap');
    const latest = await ctx().serde.registry.getLatestSchemaId(`${topic}-value`);
    expect(latest).toBe(first);
  });

  it('several processes registering a fresh subject at once all get its id (none refused for its compatibility level)', async () => {
    // Each serde has its own registry client, as separate apps do; the subject is new.
    const topic = `${ctx().config.kafka.topics['events.agent.wrap']}.race.${Date.now()}`;
    const topics = { ...ctx().config.kafka.topics, 'events.agent.wrap': topic };
    const serdes = Array.from({ length: 8 }, () => new AvroSerde(createRegistry(ctx().config.registry), topics));
    const ids = await Promise.all(serdes.map((s) => s.register('events.agent.wrap')));
    expect(new Set(ids).size).toBe(1);
    expect(await ctx().serde.registry.getLatestSchemaId(`${topic}-value`)).toBe(ids[0]);
  });

  it('reads a message written with a newer schema that added a field', async () => {
    const topic = ctx().config.kafka.topics['events.mpiq.attempt'];
    const mpiq = specPayloads().find((p) => p.event.type === 'mpiq.attempt')!;
    const base = ctx().serde.registry;
    // A producer on a later version adds an optional field with a default: compatible evolution.
    const raw = JSON.parse(JSON.stringify((await import('@triggers/contracts')).schemaCatalog().selfContained('triggers.events.MpiqAttemptEvent')));
    raw.fields.push({ name: 'region', type: ['null', 'string'], default: null });
    const { id } = await base.register({ type: 'AVRO' as never, schema: JSON.stringify(raw) }, { subject: `${topic}-value` });
    const wire = await base.encode(id, {
      tenantId: 't',
      eventId: 'e',
      type: 'mpiq.attempt',
      payload: wrapStrings(mpiq.event.payload),
      region: { string: 'au' },
    });
    const decoded = await ctx().serde.decode<Record<string, unknown>>(wire);
    expect(decoded.value.region).toBe('au');
    expect(decoded.value.payload).toEqual(mpiq.event.payload);
  });

  it('decodes without waiting once a schema is known, and encodes values larger than the scratch buffer', async () => {
    const wrap = specPayloads().find((p) => p.event.type === 'agent.wrap')!.event;
    // A fresh serde has fetched no writer schema yet: the first message must go through decode().
    const serde = new AvroSerde(ctx().serde.registry, ctx().config.kafka.topics);
    const big = { ...(wrap.payload as Record<string, unknown>), callerNumber: 'x'.repeat(200_000) };
    const encode = await serde.encoderFor('events.agent.wrap');
    const wire = encode({ tenantId: 't', eventId: 'e', type: 'agent.wrap', payload: big });
    const small = encode({ tenantId: 't', eventId: 'e2', ...wrap });
    expect(serde.decodeKnown(wire)).toBeUndefined();
    const decoded = (await serde.decode<{ payload: { callerNumber: string } }>(wire)).value.payload;
    expect(decoded.callerNumber.length).toBe(200_000);
    expect(JSON.stringify(decoded) === JSON.stringify(big)).toBe(true);
    expect(serde.decodeKnown<{ eventId: string; payload: unknown }>(small)!.value).toMatchObject({ eventId: 'e2', payload: wrap.payload });
    expect(() => serde.decodeKnown(Buffer.from('{}'))).toThrow(ContractError);
  });

  it('refuses bytes that are not Confluent Avro, an unknown schema id and a broken body', async () => {
    await expect(ctx().serde.decode(Buffer.from('{"type":"agent.wrap"}'))).rejects.toThrow(ContractError);
    await expect(ctx().serde.decode(Buffer.from('{"type":"agent.wrap"}'))).rejects.toThrow(/not Confluent Avro/);
    const unknownId = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 1, 2, 3]);
    await expect(ctx().serde.decode(unknownId)).rejects.toThrow(/unknown schema id/);
    const id = await ctx().serde.register('events.agent.wrap');
    const truncated = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), Buffer.from([2, 4])]);
    truncated.writeInt32BE(id, 1);
    await expect(ctx().serde.decode(truncated)).rejects.toThrow(/does not decode/);
  });
});

/** Wraps string values as avsc expects for `["null","string"]` unions with wrapUnions. */
function wrapStrings(payload: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(payload).map(([k, v]) => [k, v === null ? null : { string: v }]));
}
