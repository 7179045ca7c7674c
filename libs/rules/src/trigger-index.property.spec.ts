import fc from 'fast-check';
import { compileTrigger } from './compile-trigger';
import type { Condition, Trigger } from './trigger.model';
import { OPERATORS } from './trigger.model';
import { TriggerIndex } from './trigger-index';

/**
 * The filed index must give exactly what judging every trigger of the tenant and type in turn
 * gives, in the same order, whatever the triggers and the event: numbers in any spelling, plain
 * text, timestamps, booleans, null, missing fields, `in` lists, disabled triggers, replacements
 * and deletions.
 */
const REFERENCES = ['campaignId', 'wrapCode', 'lead.listId', 'agentId', 'lead.totalAttempts'];
const VALUES = ['53', '053', '53.0', '+53', '54', 'abc', 'ABC', 'null', 'true', 'false', '2024-05-03', '2024-05-03T00:00:00Z', ' 53', 'x,y', ''];
const PAYLOAD_VALUES = fc.oneof(
  fc.constantFrom(...VALUES),
  fc.constantFrom(53, 54, 53.5, 0, -0, Number.NaN),
  fc.constant(null),
  fc.boolean(),
  fc.constant({ nested: '53' }),
);

const condition: fc.Arbitrary<Condition> = fc.record({
  reference: fc.constantFrom(...REFERENCES),
  operator: fc.constantFrom(...OPERATORS),
  value: fc.oneof(
    fc.constantFrom(...VALUES),
    fc.array(fc.constantFrom(...VALUES), { minLength: 1, maxLength: 3 }).map((vs) => vs.join(', ')),
  ),
});

const trigger: fc.Arbitrary<Trigger> = fc.record({
  name: fc.constant('t'),
  eventType: fc.constant('agent.wrap' as const),
  enabled: fc.constantFrom(true, true, true, true, true, false),
  conditions: fc.array(condition, { maxLength: 3 }),
  actions: fc.constant([{ action: 'webhook' as const, parameters: { url: 'https://hooks.example/' } }]),
});

const payload = fc.record(
  {
    campaignId: PAYLOAD_VALUES,
    wrapCode: PAYLOAD_VALUES,
    agentId: PAYLOAD_VALUES,
    lead: fc.record({ listId: PAYLOAD_VALUES, totalAttempts: PAYLOAD_VALUES }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

describe('TriggerIndex filing', () => {
  it('matches exactly what the linear scan matches, in the same order', () => {
    fc.assert(
      fc.property(
        fc.array(trigger, { maxLength: 30 }),
        fc.array(fc.nat(29), { maxLength: 5 }),
        fc.array(payload, { minLength: 1, maxLength: 5 }),
        (triggers, removed, payloads) => {
          const index = new TriggerIndex();
          triggers.forEach((t, i) => index.upsert('tenant', `t${i}`, 1, t));
          // Replacements and deletions go through the same filing.
          if (triggers.length > 0) index.upsert('tenant', 't0', 2, triggers[triggers.length - 1]);
          const gone = new Set(removed.filter((i) => i < triggers.length && i !== 0));
          for (const i of gone) index.remove('tenant', `t${i}`);
          const held = index.triggersOf('tenant', 'agent.wrap');
          for (const p of payloads) {
            const linear = held.filter((h) => compileTrigger(h.compiled.trigger).matches(p)).map((h) => h.triggerId);
            expect(index.match('tenant', 'agent.wrap', p).map((h) => h.triggerId)).toEqual(linear);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('judges only the triggers an event can meet: 10,000 on their own campaigns cost one lookup', () => {
    const index = new TriggerIndex();
    for (let i = 0; i < 10_000; i++) {
      index.upsert('tenant', `t${i}`, 1, {
        name: `t${i}`,
        eventType: 'agent.wrap',
        enabled: true,
        conditions: [
          { reference: 'campaignId', operator: '=', value: String(1000 + i) },
          { reference: 'wrapCode', operator: '>', value: '0' },
        ],
        actions: [{ action: 'webhook', parameters: { url: 'https://hooks.example/' } }],
      });
    }
    let judged = 0;
    for (const h of index.triggersOf('tenant', 'agent.wrap')) {
      const compiled = h.compiled;
      const original = compiled.matches.bind(compiled);
      compiled.matches = (p, c) => {
        judged++;
        return original(p, c);
      };
    }
    expect(index.match('tenant', 'agent.wrap', { campaignId: '1234', wrapCode: '5' }).map((h) => h.triggerId)).toEqual(['t234']);
    expect(judged).toBe(1);
  });
});
