import { LeadCommand, LogRecord, WebhookCommand, schemaCatalog } from '@triggers/contracts';
import {
  AppProcess,
  PipelineDriver,
  readDecoded,
  readTopic,
  specPayload,
  specTriggerParameters,
  startHealthyApp,
  uniqueId,
  useTestContext,
  waitForConsumed,
} from '@triggers/testing';

const SPEC = specTriggerParameters();
const params = (file: string) =>
  SPEC[file].parameters as {
    conditions: { reference: string; operator: string; value: string }[];
    actions: { action: string; parameters: Record<string, string> }[];
  };
/** The spec's parameters as the config topic carries them: normalised (lead.listId → listId). */
const normalised = (file: string) => ({
  conditions: params(file).conditions,
  actions: params(file).actions.map((a) => ({
    action: a.action,
    parameters: a.parameters['lead.listId'] ? { listId: a.parameters['lead.listId'] } : a.parameters,
  })),
});
const withPayload = (file: string, changes: Record<string, unknown>) => {
  const { event } = specPayload(file);
  return { type: event.type, payload: { ...event.payload, ...changes } };
};

describe('matcher', () => {
  const ctx = useTestContext({ topics: true });
  let driver: PipelineDriver;
  const running: AppProcess[] = [];

  const startMatcher = async (instanceId = uniqueId('m')) => {
    const app = await startHealthyApp(ctx().env, 'matcher', { MATCHER_INSTANCE_ID: instanceId });
    running.push(app);
    return app;
  };

  beforeAll(() => {
    driver = new PipelineDriver(ctx());
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((a) => a.stop()));
  });

  afterAll(async () => {
    await driver.close();
  });

  it('runs the four spec examples end to end: the right commands for the right events, nothing else', async () => {
    await driver.trigger('acme', 'attempts', {
      version: 1,
      name: 'Move Leads based on Dial Attempts',
      eventType: 'outbound.lead.outcome.predictive',
      enabled: true,
      ...normalised('move-leads-by-attempts.json'),
    });
    await driver.trigger('acme', 'wrapcode', {
      version: 1,
      name: 'Move Lead based on Wrap Code',
      eventType: 'outbound.lead.outcome.preview',
      enabled: true,
      ...normalised('move-lead-by-wrap-code.json'),
    });
    await driver.trigger('acme', 'wraphook', {
      version: 1,
      name: 'Send Webhook on Agent Wrap',
      eventType: 'agent.wrap',
      enabled: true,
      ...normalised('webhook-on-agent-wrap.json'),
    });
    await driver.trigger('acme', 'mpiqhook', {
      version: 1,
      name: 'Send a Webhook on MPIQ Attempt',
      eventType: 'mpiq.attempt',
      enabled: true,
      // With a retry window of its own, which its commands carry.
      conditions: normalised('webhook-on-mpiq-attempt.json').conditions,
      actions: normalised('webhook-on-mpiq-attempt.json').actions.map((a) => ({ ...a, parameters: { ...a.parameters, retryWindow: 'PT30M' } })),
    });
    await driver.trigger('acme', 'nolead', {
      version: 1,
      name: 'Move manual calls',
      eventType: 'agent.wrap',
      enabled: true,
      conditions: [{ reference: 'campaignId', operator: '=', value: '1196' }],
      actions: [{ action: 'lead.update.list', parameters: { listId: '7' } }],
    });
    await startMatcher();

    // Every spec payload as it is: none matches (other campaigns), except the manual call's lead action.
    for (const p of [
      'predictive-answering-machine.json',
      'predictive-answered-completed.json',
      'preview-answering-machine.json',
      'preview-answer-completed.json',
      'agent-wrap-inbound.json',
      'agent-wrap-outbound-preview.json',
      'agent-wrap-predictive-outbound.json',
      'mpiq-attempt.json',
      'inbound-workflow-abandon.json',
      'inbound-queue-abandon.json',
    ]) {
      await driver.event('acme', specPayload(p).event);
    }
    const manual = await driver.event('acme', specPayload('agent-wrap-manual-outbound.json').event);
    const attempts = await driver.event(
      'acme',
      withPayload('predictive-answering-machine.json', {
        campaignId: '53',
        lead: { ...(specPayload('predictive-answering-machine.json').event.payload.lead as object), totalAttempts: '3' },
      }),
    );
    const wrapcode = await driver.event('acme', withPayload('preview-answer-completed.json', { campaignId: '1695', wrapCode: '185' }));
    const wrapEvent = withPayload('agent-wrap-inbound.json', { campaignId: '215' });
    const wraphook = await driver.event('acme', wrapEvent);
    const mpiqEvent = withPayload('mpiq-attempt.json', { campaign_id: '223' });
    const mpiqhook = await driver.event('acme', mpiqEvent);
    // The same matching events for another tenant meet none of acme's triggers.
    await driver.event('globex', wrapEvent);
    await driver.event('globex', mpiqEvent);

    const topics = ctx().config.kafka.topics;
    const webhooks = (await readDecoded<WebhookCommand>(ctx(), topics.webhookCommands, { expected: 2 })).map((m) => m.value);
    expect(webhooks.map((c) => [c.eventId, c.triggerId]).sort()).toEqual(
      [
        [mpiqhook, 'mpiqhook'],
        [wraphook, 'wraphook'],
      ].sort(),
    );
    const wrapCommand = webhooks.find((c) => c.triggerId === 'wraphook')!;
    // The body is the event exactly as the spec shows it.
    expect(wrapCommand.body).toBe(JSON.stringify(wrapEvent));
    expect(webhooks.find((c) => c.triggerId === 'mpiqhook')!.body).toBe(JSON.stringify(mpiqEvent));
    expect(wrapCommand).toMatchObject({
      tenantId: 'acme',
      url: params('webhook-on-agent-wrap.json').actions[0].parameters.url,
      attempt: 1,
      origin: 'event',
      dueAt: null,
      actionIndex: 0,
      retryWindowMinutes: null,
    });
    expect(webhooks.find((c) => c.triggerId === 'mpiqhook')!.retryWindowMinutes).toBe(30);
    // The dispatcher's 48-hour window counts from the first attempt the command carries (retry-policy.spec).
    expect(Date.now() - wrapCommand.firstAttemptAt).toBeLessThan(5 * 60_000);

    const leads = (await readDecoded<LeadCommand>(ctx(), topics.leadCommands, { expected: 2 })).map((m) => m.value);
    expect(
      leads
        .map((c) => ({ eventId: c.eventId, triggerId: c.triggerId, leadId: c.leadId, campaignId: c.campaignId, toListId: c.toListId }))
        .sort((a, b) => a.triggerId.localeCompare(b.triggerId)),
    ).toEqual([
      { eventId: attempts, triggerId: 'attempts', leadId: '131410', campaignId: '53', toListId: '354' },
      { eventId: wrapcode, triggerId: 'wrapcode', leadId: '131414', campaignId: '1695', toListId: '445' },
    ]);

    const logs = (await readDecoded<LogRecord>(ctx(), topics.log, { expected: 6 })).map((m) => m.value);
    expect(
      logs
        .filter((l) => l.step === 'matched')
        .map((l) => l.triggerId)
        .sort(),
    ).toEqual(['attempts', 'mpiqhook', 'nolead', 'wrapcode', 'wraphook']);
    expect(logs.filter((l) => l.step === 'lead.skipped')).toEqual([
      expect.objectContaining({ eventId: manual, triggerId: 'nolead', message: 'skipped: event has no lead', tenantId: 'acme' }),
    ]);
    expect(logs.every((l) => l.tenantId === 'acme')).toBe(true);
  });

  it('dead-letters each kind of poison message with its reason, and the partition keeps flowing', async () => {
    const topics = ctx().config.kafka.topics;
    const wrapTopic = topics['events.agent.wrap'];
    const matcher = await startMatcher();
    const offsetOfNext = async () => (await ctx().admin.fetchTopicOffsets(wrapTopic)).find((p) => p.partition === 0)!.high;
    // All to partition 0 (same key) so the good event comes after the poison in one partition.
    const unknownId = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 1, 2, 3]);
    const mpiq = specPayload('mpiq-attempt.json').event;
    const mpiqOnWrapTopic = await ctx().serde.encode('events.mpiq.attempt', { tenantId: 'acme', eventId: 'x1', ...mpiq });
    const wrap = specPayload('agent-wrap-inbound.json').event;
    const unknownType = await ctx().serde.encode('events.agent.wrap', { tenantId: 'acme', eventId: 'x2', type: 'agent.unwrap', payload: wrap.payload });
    const truncated = Buffer.concat([unknownType.subarray(0, 5), Buffer.from([0x02])]);
    // Registered schemas that decode to null: the `null` schema, and the null branch of a union.
    const wire = (id: number, body: number[]) =>
      Buffer.concat([Buffer.from([0, (id >>> 24) & 0xff, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff]), Buffer.from(body)]);
    // Registered over the registry's own API, as another producer would (our client refuses unnamed schemas).
    const register = async (schema: unknown) => {
      const res = await fetch(`${ctx().env.SCHEMA_REGISTRY_URL}/subjects/${ctx().namespace}.odd-${uniqueId('s')}-value/versions`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ schema: JSON.stringify(schema) }),
      });
      if (!res.ok) throw new Error(`registering ${JSON.stringify(schema).slice(0, 40)}: HTTP ${res.status} ${await res.text()}`);
      return ((await res.json()) as { id: number }).id;
    };
    const nullSchema = wire(await register('null'), []);
    const nullBranch = wire(await register(['null', schemaCatalog().selfContained('triggers.events.AgentWrapEvent')]), [0]);
    // Just under the topic's max.message.bytes (1 MiB + 12 by default): whole, its dead letter would not fit.
    const huge = Buffer.alloc(1_048_000, 0x61);
    const poison: [string, Buffer | null][] = [
      ['not Confluent Avro', Buffer.from(JSON.stringify(wrap))],
      ['unknown schema id', unknownId],
      ['a triggers.events.MpiqAttemptEvent where a triggers.events.AgentWrapEvent belongs', mpiqOnWrapTopic],
      ['unknown event type "agent.unwrap"', unknownType],
      ['does not decode', truncated],
      ['empty', null],
      ['where a triggers.events.AgentWrapEvent belongs', nullSchema],
      ['where a triggers.events.AgentWrapEvent belongs', nullBranch],
      ['not Confluent Avro', huge],
    ];
    const firstOffset = Number(await offsetOfNext());
    for (const [, value] of poison) await driver.raw(wrapTopic, value, 'poison');
    await driver.trigger('poisoned', 'hook', {
      version: 1,
      name: 'all wraps',
      eventType: 'agent.wrap',
      enabled: true,
      conditions: [],
      actions: [{ action: 'webhook', parameters: { url: 'https://hooks.example/p' } }],
    });
    // The config change applies within a second; the good event is judged after it.
    await new Promise((r) => setTimeout(r, 1000));
    const good = await ctx().serde.encode('events.agent.wrap', { tenantId: 'poisoned', eventId: 'good-1', ...wrap });
    await driver.raw(wrapTopic, good, 'poison');

    const commands = (await readDecoded<WebhookCommand>(ctx(), topics.webhookCommands, { expected: 1, where: (c) => c.tenantId === 'poisoned' })).map(
      (m) => m.value,
    );
    expect(commands.map((c) => c.eventId)).toEqual(['good-1']);
    const dead = await readTopic(ctx().kafka, topics.deadLetterEvents, { expected: poison.length });
    expect(dead).toHaveLength(poison.length);
    dead.forEach((m, i) => {
      const headers = Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]));
      expect(headers['dlq-reason']).toContain(poison[i][0] === 'empty' ? 'empty' : poison[i][0]);
      expect(headers['dlq-source-topic']).toBe(wrapTopic);
      expect(headers['dlq-source-partition']).toBe('0');
      expect(Number(headers['dlq-source-offset'])).toBe(firstOffset + i);
      const original = poison[i][1];
      if (original === huge) {
        // Dead-lettered as a prefix, marked, with the original size; its source offset finds the whole.
        expect(headers['dlq-truncated']).toBe('true');
        expect(Number(headers['dlq-original-size'])).toBe(huge.length);
        expect(m.value!.length).toBeLessThan(huge.length);
        expect(Buffer.compare(m.value!, huge.subarray(0, m.value!.length))).toBe(0);
      } else {
        expect(headers['dlq-truncated']).toBeUndefined();
        expect(m.value === null ? null : Buffer.compare(m.value, original!)).toBe(original === null ? null : 0);
      }
    });
    // The matcher kept its consumer: it never crashed or was restarted.
    expect(matcher.output()).not.toContain('consumer stopped');
  });

  it('applies trigger changes live within a second, judging each event by the config in force', async () => {
    const topics = ctx().config.kafka.topics;
    await startMatcher();
    const tenant = uniqueId('live');
    const hook = (campaign: string, enabled = true, version = 1) => ({
      version,
      name: 'live',
      eventType: 'agent.wrap' as const,
      enabled,
      conditions: [{ reference: 'campaignId', operator: '=', value: campaign }],
      actions: [{ action: 'webhook', parameters: { url: 'https://hooks.example/live' } }],
    });
    const event = (campaign: string) => withPayload('agent-wrap-inbound.json', { campaignId: campaign });
    const stepMs = 1000; // the bound under test: a change applies within a second
    const wrapTopic = topics['events.agent.wrap'];
    /** Changes the trigger, gives it the promised second, then sends events and waits until they are judged. */
    const step = async (record: Parameters<PipelineDriver['trigger']>[2], campaigns: string[]) => {
      await driver.trigger(tenant, 't', record);
      await new Promise((r) => setTimeout(r, stepMs));
      const ids = [];
      for (const c of campaigns) ids.push(await driver.event(tenant, event(c)));
      await waitForConsumed(ctx(), `${ctx().namespace}-matcher`, wrapTopic);
      return ids;
    };

    const [e1] = await step(hook('1'), ['1']);
    const [e2a, e2b] = await step(hook('2', true, 2), ['1', '2']); // campaign 1 no longer matches
    await step(hook('2', false, 3), ['2']); // disabled
    const [e4] = await step(hook('2', true, 4), ['2']);
    await step(null, ['2']); // deleted

    const commands = (await readDecoded<WebhookCommand>(ctx(), topics.webhookCommands, { expected: 3, where: (c) => c.tenantId === tenant })).map(
      (m) => m.value,
    );
    expect(commands.map((c) => c.eventId)).toEqual([e1, e2b, e4]);
    expect(commands.map((c) => c.eventId)).not.toContain(e2a);
  });
});
