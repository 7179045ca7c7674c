import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { EventType } from '@triggers/contracts';
import { Condition, Operator, Trigger, compileTrigger, explain, asNumber, asTimestamp, validateTrigger } from './index';

const specDir = join(__dirname, '../../../../shared/spec');
const payloads = readdirSync(join(specDir, 'payloads'))
  .sort()
  .map((file) => ({ file, ...(JSON.parse(readFileSync(join(specDir, 'payloads', file), 'utf8')) as { type: EventType; payload: Record<string, unknown> }) }));

const trigger = (eventType: EventType, conditions: Condition[], enabled = true): Trigger => ({
  name: 't',
  eventType,
  enabled,
  conditions,
  actions: [{ action: 'webhook', parameters: { url: 'https://a.example' } }],
});
const holds = (type: EventType, payload: unknown, reference: string, operator: Operator, value: string) =>
  compileTrigger(trigger(type, [{ reference, operator, value }])).matches(payload);

/** Every leaf of a payload as [dot path, value]. */
function leaves(value: unknown, prefix = ''): [string, unknown][] {
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, value]];
}

describe('every operator against every field of every spec payload', () => {
  for (const { file, type, payload } of payloads) {
    describe(file, () => {
      for (const [path, value] of leaves(payload).filter(([p]) => p !== '')) {
        const text = value === null ? 'null' : String(value);
        it(`${path} = ${JSON.stringify(value)}`, () => {
          expect(holds(type, payload, path, '=', text)).toBe(true);
          expect(holds(type, payload, path, '=', `${text}-other`)).toBe(false);
          expect(holds(type, payload, path, 'in', `nope, ${text}`)).toBe(true);
          expect(holds(type, payload, path, 'in', 'nope,still-nope')).toBe(false);
          const n = asNumber(value);
          const t = asTimestamp(value);
          if (n !== undefined) {
            expect(holds(type, payload, path, '>', String(n - 1))).toBe(true);
            expect(holds(type, payload, path, '>', String(n))).toBe(false);
            expect(holds(type, payload, path, '>=', String(n))).toBe(true);
            expect(holds(type, payload, path, '<', String(n + 1))).toBe(true);
            expect(holds(type, payload, path, '<', String(n))).toBe(false);
            expect(holds(type, payload, path, '<=', String(n))).toBe(true);
          } else if (t !== undefined) {
            const later = new Date(t + 1000).toISOString().replace('.000Z', '+0000');
            const earlier = new Date(t - 1000).toISOString().replace('.000Z', '+00:00');
            expect(holds(type, payload, path, '<', later)).toBe(true);
            expect(holds(type, payload, path, '>', earlier)).toBe(true);
            expect(holds(type, payload, path, '>=', later)).toBe(false);
            expect(holds(type, payload, path, '<=', text)).toBe(true);
          } else {
            for (const op of ['>', '<', '>=', '<='] as Operator[]) expect(holds(type, payload, path, op, text)).toBe(false);
          }
        });
      }
    });
  }
});

describe('comparison semantics', () => {
  const p = {
    n: '10',
    phone: '+614XXXXXXXX',
    ts: '2024-05-03T06:41:08+0000',
    tsColon: '2024-05-03T07:20:23+00:00',
    tsPlain: '2024-05-03 07:15:14',
    flag: false,
    nothing: null,
    count: 7,
    empty: [],
    nested: { '1': { phone: 'a' } },
  };
  const t = (reference: string, operator: Operator, value: string) => holds('agent.wrap', p, reference, operator, value);

  it.each([
    ['n', '>', '9', true],
    ['n', '=', '10.0', true],
    ['n', '<', '9', false],
    ['phone', '=', '+614XXXXXXXX', true],
    ['phone', '>', '+600', false],
    ['ts', '=', '2024-05-03T06:41:08+00:00', true],
    ['ts', '<', '2024-05-03 07:15:14', true],
    ['tsColon', '>', '2024-05-03T07:15:14+0000', true],
    ['tsPlain', '>=', '2024-05-03', true],
    ['tsPlain', '<', '2024-05-03T09:15:14+02:00', false],
    ['flag', '=', 'false', true],
    ['flag', '=', 'true', false],
    ['flag', '=', '0', false],
    ['nothing', '=', 'null', true],
    ['nothing', '=', '', false],
    ['nothing', '<', '1', false],
    ['count', '>=', '7', true],
    ['count', 'in', '6, 7', true],
    ['empty', '=', '[]', false],
    ['nested.1.phone', '=', 'a', true],
    ['nested.2.phone', '=', 'a', false],
    ['missing.path', '=', 'null', false],
    ['missing', '<', '1', false],
    ['Phone', '=', '+614XXXXXXXX', false],
  ] as [string, Operator, string, boolean][])('%s %s %s → %s', (reference, operator, value, expected) => {
    expect(t(reference, operator, value)).toBe(expected);
  });

  it('treats "215,223" and "215, 223" as the same list', () => {
    for (const campaignId of ['215', '223', '224']) {
      const payload = { campaignId };
      expect(holds('agent.wrap', payload, 'campaignId', 'in', '215,223')).toBe(holds('agent.wrap', payload, 'campaignId', 'in', '215, 223'));
    }
  });

  it('ANDs conditions, matches everything without conditions, and never matches when disabled', () => {
    const payload = { campaignId: '53', lead: { totalAttempts: '3' } };
    const both: Condition[] = [
      { reference: 'campaignId', operator: '=', value: '53' },
      { reference: 'lead.totalAttempts', operator: '>=', value: '3' },
    ];
    expect(compileTrigger(trigger('outbound.lead.outcome.predictive', both)).matches(payload)).toBe(true);
    expect(compileTrigger(trigger('outbound.lead.outcome.predictive', both)).matches({ ...payload, campaignId: '54' })).toBe(false);
    expect(compileTrigger(trigger('outbound.lead.outcome.predictive', [])).matches({})).toBe(true);
    expect(compileTrigger(trigger('outbound.lead.outcome.predictive', both, false)).matches(payload)).toBe(false);
    expect(compileTrigger(trigger('outbound.lead.outcome.predictive', [], false)).matches({})).toBe(false);
  });
});

describe('properties', () => {
  const num = fc.oneof(fc.integer({ min: -1e9, max: 1e9 }), fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }));
  const check = (a: number | string, op: Operator, b: number | string) => holds('agent.wrap', { x: String(a) }, 'x', op, String(b));

  it('a >= b ⇔ !(a < b), and a <= b ⇔ (a < b or a = b), on numbers held as strings', () => {
    fc.assert(
      fc.property(num, num, (a, b) => {
        expect(check(a, '>=', b)).toBe(!check(a, '<', b));
        expect(check(a, '<=', b)).toBe(check(a, '<', b) || check(a, '=', b));
        expect(check(a, '>', b)).toBe(check(b, '<', a));
      }),
    );
  });

  it('"in" with one value ⇔ "="', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          num.map(String),
          fc.string().filter((s) => !s.includes(',') && s.trim() === s && s !== ''),
        ),
        fc.string(),
        (value, actual) => {
          const payload = { x: actual };
          expect(holds('agent.wrap', payload, 'x', 'in', value)).toBe(holds('agent.wrap', payload, 'x', '=', value));
        },
      ),
    );
  });

  it('numbers compare numerically, not as text ("10" > "9")', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 1e6 }), (a, b) => {
        expect(check(a, '>', b)).toBe(a > b);
      }),
    );
  });

  it("timestamps compare chronologically across the spec's formats", () => {
    const min = Date.UTC(2000, 0, 1);
    const max = Date.UTC(2040, 0, 1);
    fc.assert(
      fc.property(fc.integer({ min, max }), fc.integer({ min, max }), (a, b) => {
        const plus0000 = new Date(Math.floor(a / 1000) * 1000).toISOString().replace('.000Z', '+0000');
        const plain = new Date(Math.floor(b / 1000) * 1000).toISOString().replace('.000Z', '').replace('T', ' ');
        expect(check(plus0000, '<', plain)).toBe(Math.floor(a / 1000) < Math.floor(b / 1000));
      }),
    );
  });
});

describe('the spec trigger examples match exactly the payloads they are meant for', () => {
  const specTrigger = (file: string, eventType: EventType) => {
    const r = validateTrigger({ name: file, eventType, enabled: true, parameters: readFileSync(join(specDir, 'triggers', file), 'utf8') });
    if (!r.ok) throw new Error(r.error);
    return compileTrigger(r.trigger);
  };
  /** Which payloads a trigger matches, among all eleven (other event types never reach it). */
  const matching = (compiled: ReturnType<typeof compileTrigger>, list: typeof payloads) =>
    list.filter((p) => p.type === compiled.trigger.eventType && compiled.matches(p.payload)).map((p) => p.file);

  it('Move Leads based on Dial Attempts: campaign 53 with 3 or more attempts', () => {
    const compiled = specTrigger('move-leads-by-attempts.json', 'outbound.lead.outcome.predictive');
    expect(matching(compiled, payloads)).toEqual([]);
    const adjusted = payloads.map((p) =>
      p.file === 'predictive-answering-machine.json'
        ? { ...p, payload: { ...p.payload, campaignId: '53', lead: { ...(p.payload.lead as object), totalAttempts: '3' } } }
        : p.file === 'predictive-answered-completed.json'
          ? { ...p, payload: { ...p.payload, campaignId: '53' } } // only 1 attempt: no match
          : p,
    );
    expect(matching(compiled, adjusted)).toEqual(['predictive-answering-machine.json']);
  });

  it('Move Lead based on Wrap Code: wrap code 185 in campaign 1695', () => {
    const compiled = specTrigger('move-lead-by-wrap-code.json', 'outbound.lead.outcome.preview');
    expect(matching(compiled, payloads)).toEqual([]);
    const adjusted = payloads.map((p) =>
      p.file === 'preview-answer-completed.json'
        ? { ...p, payload: { ...p.payload, wrapCode: '185', campaignId: '1695' } }
        : p.file === 'preview-answering-machine.json'
          ? { ...p, payload: { ...p.payload, campaignId: '1695' } } // wrap code 6: no match
          : p,
    );
    expect(matching(compiled, adjusted)).toEqual(['preview-answer-completed.json']);
  });

  it('Send Webhook on Agent Wrap: campaigns 215 and 223', () => {
    const compiled = specTrigger('webhook-on-agent-wrap.json', 'agent.wrap');
    expect(matching(compiled, payloads)).toEqual([]);
    const adjusted = payloads.map((p) =>
      p.file === 'agent-wrap-inbound.json'
        ? { ...p, payload: { ...p.payload, campaignId: '215' } }
        : p.file === 'agent-wrap-outbound-preview.json'
          ? { ...p, payload: { ...p.payload, campaignId: '223' } }
          : p.file === 'agent-wrap-manual-outbound.json'
            ? { ...p, payload: { ...p.payload, campaignId: '2150' } }
            : p,
    );
    expect(matching(compiled, adjusted)).toEqual(['agent-wrap-inbound.json', 'agent-wrap-outbound-preview.json']);
  });

  it('Send a Webhook on MPIQ Attempt: campaignId resolves to campaign_id', () => {
    const compiled = specTrigger('webhook-on-mpiq-attempt.json', 'mpiq.attempt');
    expect(matching(compiled, payloads)).toEqual([]);
    const adjusted = payloads.map((p) => (p.file === 'mpiq-attempt.json' ? { ...p, payload: { ...p.payload, campaign_id: '223' } } : p));
    expect(matching(compiled, adjusted)).toEqual(['mpiq-attempt.json']);
  });
});

describe('explain', () => {
  it('shows each condition with what the payload holds', () => {
    const mpiq = payloads.find((p) => p.type === 'mpiq.attempt')!;
    const t = trigger('mpiq.attempt', [
      { reference: 'campaignId', operator: 'in', value: '215, 20183' },
      { reference: 'attempts', operator: '>=', value: '2' },
      { reference: 'missing', operator: '=', value: 'x' },
    ]);
    expect(explain(t, mpiq)).toEqual({
      matched: false,
      enabled: true,
      eventTypeMatches: true,
      conditions: [
        { reference: 'campaignId', resolvedReference: 'campaign_id', operator: 'in', expected: '215, 20183', actual: '20183', found: true, passed: true },
        { reference: 'attempts', operator: '>=', expected: '2', actual: '0', found: true, passed: false },
        { reference: 'missing', operator: '=', expected: 'x', found: false, passed: false },
      ],
      actions: [],
    });
    const one = trigger('mpiq.attempt', [{ reference: 'status', operator: '=', value: 'calling' }]);
    expect(explain(one, mpiq)).toMatchObject({ matched: true, actions: one.actions });
    expect(explain(one, { ...mpiq, type: 'agent.wrap' })).toMatchObject({ matched: false, eventTypeMatches: false });
  });
});
