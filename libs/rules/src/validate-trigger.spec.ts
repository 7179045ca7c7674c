import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SPEC_ERRORS, validateTrigger, ValidationResult, InvalidTrigger, ValidTrigger } from './index';

const triggerDir = join(__dirname, '../../../../shared/spec/triggers');
const specTriggers = Object.fromEntries(readdirSync(triggerDir).map((f) => [f, readFileSync(join(triggerDir, f), 'utf8')])) as Record<string, string>;

const EVENT_TYPE_OF: Record<string, string> = {
  'move-leads-by-attempts.json': 'outbound.lead.outcome.predictive',
  'move-lead-by-wrap-code.json': 'outbound.lead.outcome.preview',
  'webhook-on-agent-wrap.json': 'agent.wrap',
  'webhook-on-mpiq-attempt.json': 'mpiq.attempt',
};

const valid = (r: ValidationResult): ValidTrigger => {
  if (!r.ok) throw new Error(`expected a valid trigger, got ${r.error}: ${JSON.stringify(r.details)}`);
  return r;
};
const invalid = (r: ValidationResult): InvalidTrigger => {
  if (r.ok) throw new Error('expected an invalid trigger');
  return r;
};
const withParameters = (parameters: unknown) => ({ name: 'T', eventType: 'agent.wrap', enabled: true, parameters });

describe('the spec trigger examples', () => {
  it.each(Object.keys(EVENT_TYPE_OF))('%s is valid as typed text and as an object, with no warnings', (file) => {
    for (const parameters of [specTriggers[file], JSON.parse(specTriggers[file])]) {
      const r = valid(validateTrigger({ name: file, eventType: EVENT_TYPE_OF[file], enabled: true, parameters }));
      expect(r.warnings).toEqual([]);
      expect(r.trigger.actions.length).toBe(1);
    }
  });

  it('stores the spec\'s "lead.listId" as listId', () => {
    const r = valid(validateTrigger({ name: 'x', eventType: 'outbound.lead.outcome.predictive', parameters: specTriggers['move-leads-by-attempts.json'] }));
    expect(r.trigger.actions).toEqual([{ action: 'lead.update.list', parameters: { listId: '354' } }]);
    expect(r.parametersText).toBe(specTriggers['move-leads-by-attempts.json']);
  });

  it('accepts the display names of event types and disables by default', () => {
    const names: [string, string][] = [
      ['Dialler Call Outcome (Predictive)', 'outbound.lead.outcome.predictive'],
      ['dialler call outcome (preview)', 'outbound.lead.outcome.preview'],
      ['Agent Wrap', 'agent.wrap'],
      ['MPIQ Attempt', 'mpiq.attempt'],
      ['Abandoned From Workflow', 'inbound.workflow.abandon'],
      ['Abandoned in Queue', 'inbound.queue.abandon'],
    ];
    for (const [name, id] of names) {
      const r = valid(validateTrigger({ name: 'x', eventType: name, parameters: specTriggers['webhook-on-agent-wrap.json'] }));
      expect(r.trigger.eventType).toBe(id);
      expect(r.trigger.enabled).toBe(false);
    }
  });

  it('needs no conditions but always an action', () => {
    const r = valid(validateTrigger(withParameters({ actions: [{ action: 'webhook', parameters: { url: 'https://x.example/h' } }] })));
    expect(r.trigger.conditions).toEqual([]);
  });
});

describe('the four spec errors', () => {
  it.each([
    ['an empty parameters field', ''],
    ['blank text', '   \n'],
    ['a missing parameters field', undefined],
    ['broken JSON', '{"actions": [ }'],
    ['a JSON array', '[]'],
    ['the help page example with its comment', '{"conditions": [{"reference": "campaignId", //-uppercase i\n "operator": "=", "value": "53"}], "actions": []}'],
  ])('Invalid JSON format: %s', (_why, parameters) => {
    expect(invalid(validateTrigger(withParameters(parameters))).error).toBe(SPEC_ERRORS.invalidJson);
  });

  it('says where the JSON breaks, with line and column', () => {
    const r = invalid(validateTrigger(withParameters('{\n  "actions": [\n    {"action": "webhook",}\n  ]\n}')));
    expect(r.details[0]).toEqual({ path: 'parameters', message: 'line 3, column 26: a property name in double quotes was expected' });
    const c = invalid(validateTrigger(withParameters('{"conditions": [], // note\n"actions": []}')));
    expect(c.details[0].message).toBe('line 1, column 20: comments are not allowed in JSON');
  });

  it.each([
    ['no actions key', { conditions: [] }],
    ['actions not a list', { actions: { action: 'webhook' } }],
    ['an empty actions list', { actions: [] }],
    ['an empty action', { actions: [{ action: '', parameters: { url: 'https://a.example' } }] }],
    ['an action entry that is not an object', { actions: ['webhook'] }],
  ])('Actions object error: %s', (_why, parameters) => {
    expect(invalid(validateTrigger(withParameters(parameters))).error).toBe(SPEC_ERRORS.actions);
  });

  it.each([
    ['webhook without parameters', [{ action: 'webhook' }]],
    ['empty parameters', [{ action: 'webhook', parameters: {} }]],
    ['a relative url', [{ action: 'webhook', parameters: { url: '/hook' } }]],
    ['an ftp url', [{ action: 'webhook', parameters: { url: 'ftp://files.example/x' } }]],
    ['a listId that is a number', [{ action: 'lead.update.list', parameters: { listId: 10 } }]],
    ['an empty listId', [{ action: 'lead.update.list', parameters: { listId: ' ' } }]],
    ['listId and lead.listId disagreeing', [{ action: 'lead.update.list', parameters: { listId: '1', 'lead.listId': '2' } }]],
  ])('Invalid action parameters: %s', (_why, actions) => {
    expect(invalid(validateTrigger(withParameters({ actions }))).error).toBe(SPEC_ERRORS.actionParameters);
  });

  it.each([
    ['a misspelled action', { actions: [{ action: 'webhok', parameters: { url: 'https://a.example' } }] }],
    ['an unknown action', { actions: [{ action: 'lead.delete', parameters: { listId: '1' } }] }],
    [
      'an unknown operator',
      { conditions: [{ reference: 'campaignId', operator: '==', value: '1' }], actions: [{ action: 'webhook', parameters: { url: 'https://a.example' } }] },
    ],
    [
      'a condition without reference',
      { conditions: [{ operator: '=', value: '1' }], actions: [{ action: 'webhook', parameters: { url: 'https://a.example' } }] },
    ],
    [
      'a condition without value',
      { conditions: [{ reference: 'wrapCode', operator: '=' }], actions: [{ action: 'webhook', parameters: { url: 'https://a.example' } }] },
    ],
    ['conditions not a list', { conditions: { reference: 'wrapCode' }, actions: [{ action: 'webhook', parameters: { url: 'https://a.example' } }] }],
  ])('Error when saving trigger: %s', (_why, parameters) => {
    expect(invalid(validateTrigger(withParameters(parameters))).error).toBe(SPEC_ERRORS.saving);
  });

  it('Error when saving trigger: no name, or an unknown event type', () => {
    const parameters = specTriggers['webhook-on-agent-wrap.json'];
    expect(invalid(validateTrigger({ name: ' ', eventType: 'agent.wrap', parameters })).details[0].path).toBe('name');
    const r = invalid(validateTrigger({ name: 'x', eventType: 'agent.unwrap', parameters }));
    expect(r.error).toBe(SPEC_ERRORS.saving);
    expect(r.details[0].message).toContain('unknown event type "agent.unwrap"');
  });

  it('suggests the action meant and lists every problem found', () => {
    const r = invalid(
      validateTrigger(
        withParameters({
          conditions: [{ reference: 'campaignId', operator: '=>', value: '1' }],
          actions: [
            { action: 'Webhook', parameters: { url: 'https://a.example' } },
            { action: 'webhook', parameters: { url: 'nope' } },
          ],
        }),
      ),
    );
    expect(r.error).toBe(SPEC_ERRORS.actionParameters);
    expect(r.details).toEqual([
      { path: 'parameters.actions[0].action', message: 'unknown action "Webhook"; did you mean "webhook"?' },
      { path: 'parameters.actions[1].parameters.url', message: expect.stringContaining('absolute http(s) URL') },
      { path: 'parameters.conditions[0].operator', message: expect.stringContaining('unknown operator "=>"') },
    ]);
  });
});

describe('warnings', () => {
  it('flags a reference in the wrong case, suggesting the right one', () => {
    const r = valid(
      validateTrigger({
        name: 'x',
        eventType: 'agent.wrap',
        parameters: {
          conditions: [{ reference: 'campaignID', operator: '=', value: '1' }],
          actions: [{ action: 'webhook', parameters: { url: 'https://a.example' } }],
        },
      }),
    );
    expect(r.warnings).toEqual(['unknown reference "campaignID" for agent.wrap; did you mean "campaignId"? (parameters.conditions[0].reference)']);
  });

  it('knows nested and numeric-key references and flags ones no payload has', () => {
    const conditions = [
      { reference: 'lead.phones.1.phone', operator: '=', value: 'x' },
      { reference: 'durations.talk', operator: '>', value: '5' },
      { reference: 'lead.totalAtempts', operator: '>=', value: '3' },
      { reference: 'nothingLikeIt', operator: '=', value: '3' },
    ];
    const r = valid(
      validateTrigger({
        name: 'x',
        eventType: 'agent.wrap',
        parameters: { conditions, actions: [{ action: 'webhook', parameters: { url: 'https://a.example' } }] },
      }),
    );
    expect(r.warnings).toEqual([
      'unknown reference "lead.totalAtempts" for agent.wrap; did you mean "lead.totalAttempts"? (parameters.conditions[2].reference)',
      'unknown reference "nothingLikeIt" for agent.wrap (parameters.conditions[3].reference)',
    ]);
  });

  it('flags unknown keys instead of failing', () => {
    const r = valid(
      validateTrigger(withParameters({ condition: [], actions: [{ action: 'webhook', parameters: { url: 'https://a.example', secret: 's' } }] })),
    );
    expect(r.warnings).toEqual([
      'unknown key "condition" in parameters is ignored; did you mean "conditions"?',
      'unknown webhook parameter "secret" is ignored (parameters.actions[0].parameters)',
    ]);
  });
});

describe("a webhook action's retry window", () => {
  const webhook = (parameters: Record<string, unknown>) =>
    withParameters({ actions: [{ action: 'webhook', parameters: { url: 'https://a.example', ...parameters } }] });

  it.each([
    [30, 'PT30M'],
    ['PT2H', 'PT120M'],
    ['P2D', 'PT2880M'],
  ])('keeps %j as %s, with no warning', (retryWindow, stored) => {
    const r = valid(validateTrigger(webhook({ retryWindow })));
    expect(r.trigger.actions).toEqual([{ action: 'webhook', parameters: { url: 'https://a.example', retryWindow: stored } }]);
    expect(r.warnings).toEqual([]);
  });

  it('is absent when not given (the spec 48 hours)', () => {
    expect(valid(validateTrigger(webhook({}))).trigger.actions[0].parameters).toEqual({ url: 'https://a.example' });
  });

  it.each([5, 'PT72H', 'half an hour'])('refuses %j as invalid action parameters, naming the field', (retryWindow) => {
    const r = invalid(validateTrigger(webhook({ retryWindow })));
    expect(r.error).toBe(SPEC_ERRORS.actionParameters);
    expect(r.details).toEqual([
      {
        path: 'parameters.actions[0].parameters.retryWindow',
        message: `retryWindow must be from 10 minutes to 48 hours, as minutes (30) or an ISO-8601 duration ("PT30M", "PT2H"), got ${JSON.stringify(retryWindow)}`,
      },
    ]);
  });
});
