import { Webhook } from 'standardwebhooks';
import { commandIdFor, newLogRecord, schemaCatalog } from '@triggers/contracts';
import { EVENT_LOGS_COLLECTION, LEADS_COLLECTION, LeadDocument } from '@triggers/mongo';
import {
  AppProcess,
  PipelineDriver,
  TcpProxy,
  WebhookReceiver,
  countRecords,
  createTcpProxy,
  freePort,
  moveCommands,
  seedMovableLeads,
  newTestSecret,
  specPayload,
  startApp,
  startWebhookReceiver,
  uniqueId,
  useTestContext,
  waitFor,
} from '@triggers/testing';

/** Fetches an app's /healthz (any status) as JSON, or undefined while it does not answer. */
async function health(app: AppProcess): Promise<{ status: string; checks: Record<string, { ok: boolean; detail?: unknown }> } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${app.port}/healthz`, { signal: AbortSignal.timeout(3000) });
    return (await res.json()) as never;
  } catch {
    return undefined;
  }
}

/** Reads an app's counter from /metrics (summed over its labels). */
async function counter(app: AppProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${app.port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/**
 * The schema registry is down (a proxy in front of the real one, stopped) while every consumer
 * starts cold and work flows in: nothing may be dead-lettered, marked unreadable or sent unsigned;
 * once the registry answers, everything arrives exactly as it would have.
 */
describe('a schema registry outage while the consumers start', () => {
  const ctx = useTestContext({ topics: true });
  let driver: PipelineDriver;
  let receiver: WebhookReceiver;
  let registry: TcpProxy;
  const apps: AppProcess[] = [];

  beforeAll(async () => {
    driver = new PipelineDriver(ctx());
    receiver = await startWebhookReceiver();
    const real = new URL(ctx().env.SCHEMA_REGISTRY_URL);
    registry = await createTcpProxy({ host: real.hostname, port: Number(real.port) });
  });

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await registry?.stop();
    await receiver?.close();
    await driver?.close();
  });

  it('waits, dead-letters nothing, sends nothing unsigned, and delivers everything once the registry answers', async () => {
    const topics = ctx().config.kafka.topics;
    const tenantId = uniqueId('tenant');
    const secret = newTestSecret();
    await driver.trigger(tenantId, 'hook', {
      version: 1,
      name: 'every wrap',
      eventType: 'agent.wrap',
      enabled: true,
      conditions: [],
      actions: [{ action: 'webhook', parameters: { url: `${receiver.url}/wrap` } }],
      webhookSecrets: [secret],
    });
    const db = (await ctx().mongo()).db;
    const leadIds = Array.from({ length: 5 }, (_, i) => String(700_000 + i));
    await seedMovableLeads(db, tenantId, leadIds);

    const env = {
      SCHEMA_REGISTRY_URL: `http://127.0.0.1:${registry.port}${new URL(ctx().env.SCHEMA_REGISTRY_URL).pathname}`,
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
    };
    for (const name of ['matcher', 'webhook-dispatcher', 'lead-mover', 'log-sink']) {
      apps.push(startApp(name, { ...ctx().env, ...env, PORT: String(await freePort()) }));
    }
    const wrap = specPayload('agent-wrap-inbound.json').event;
    const eventIds = await driver.events(
      tenantId,
      Array.from({ length: 20 }, () => wrap),
    );
    const leadCommands = moveCommands(tenantId, leadIds, 'lead-evt');
    await driver.leadCommands(leadCommands);
    // Records already on the log topic, so the log-sink has work to hold too.
    const earlier = Array.from({ length: 5 }, (_, i) =>
      newLogRecord({
        logId: `${tenantId}-earlier-${i}`,
        tenantId,
        triggerId: 'earlier',
        eventId: `e${i}`,
        eventType: 'agent.wrap',
        step: 'matched',
        status: 'info',
        time: Date.now(),
        message: 'before the outage',
      }),
    );
    await driver.logRecords(earlier);

    // Each app answers /healthz meanwhile, naming the registry as down, and its consumers wait.
    for (const app of apps) {
      await waitFor(async () => (await health(app))?.checks.schemaRegistry?.ok === false, {
        timeoutMs: 30_000,
        description: `${app.name} /healthz naming the registry down`,
      });
    }
    for (const app of apps) {
      await waitFor(async () => (await counter(app, 'triggers_consumer_waits_total')) >= 2, {
        timeoutMs: 30_000,
        description: `${app.name} waiting on the registry`,
      });
    }
    expect(receiver.received).toHaveLength(0);

    await registry.start();
    await receiver.waitFor(20, { timeoutMs: 60_000 });
    const moved = db.collection<LeadDocument>(LEADS_COLLECTION);
    await waitFor(async () => (await moved.countDocuments({ tenantId, listId: '445' })) === leadIds.length, {
      timeoutMs: 60_000,
      description: 'every lead moved',
    });
    const logs = db.collection(EVENT_LOGS_COLLECTION);
    // 5 earlier records, 20 matched, 20 delivered, 5 moved: every fact of the run in MongoDB.
    await waitFor(async () => (await logs.countDocuments({ tenantId })) === 50, { timeoutMs: 60_000, description: 'every log record in MongoDB' });
    for (const app of apps) await waitFor(async () => (await health(app))?.status === 'ok', { timeoutMs: 60_000, description: `${app.name} healthy again` });

    // Every webhook signed with the trigger's secret, one per event.
    const bodies = receiver.received.map((r) => new Webhook(secret.secret).verify(r.body, r.headers) as { payload: unknown });
    expect(bodies).toHaveLength(20);
    expect(receiver.ids().size).toBe(eventIds.length);
    // Nothing dead-lettered anywhere.
    for (const topic of [topics.deadLetterEvents, topics.deadLetterWebhook, topics.deadLetterLead, topics.deadLetterLog]) {
      expect({ topic, deadLetters: await countRecords(ctx().kafka, topic) }).toEqual({ topic, deadLetters: 0 });
    }
    for (const app of apps) expect(await counter(app, 'triggers_consumer_dead_letters_total')).toBe(0);

    // Mid-flow, the registry goes down again just as a producer starts writing with a schema id
    // the matcher has never seen: that partition waits, then goes on.
    await registry.stop();
    // A newer writer schema: one optional field more at the end (a union's null branch is one byte 0).
    const base = schemaCatalog().selfContained('triggers.events.AgentWrapEvent') as { fields: unknown[] };
    const variant = { ...base, fields: [...base.fields, { name: `extra_${tenantId}`, type: ['null', 'string'], default: null }] };
    const registered = await fetch(`${ctx().env.SCHEMA_REGISTRY_URL}/subjects/${topics['events.agent.wrap']}-value/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(variant) }),
    });
    const newId = ((await registered.json()) as { id: number }).id;
    const standard = await ctx().serde.encode('events.agent.wrap', { tenantId, eventId: 'new-schema-1', ...wrap });
    expect(standard.readInt32BE(1)).not.toBe(newId);
    const withNewId = Buffer.concat([standard, Buffer.from([0])]);
    withNewId.writeInt32BE(newId, 1);
    const matcher = apps[0];
    const waitsBefore = await counter(matcher, 'triggers_consumer_waits_total');
    await driver.raw(topics['events.agent.wrap'], withNewId, `${tenantId}/new-schema-1`);
    await waitFor(async () => (await counter(matcher, 'triggers_consumer_waits_total')) >= waitsBefore + 2, {
      timeoutMs: 30_000,
      description: 'the matcher waiting on the new schema id',
    });
    expect(receiver.received).toHaveLength(20);
    await registry.start();
    const [late] = await receiver.waitFor(1, { timeoutMs: 60_000, where: (r) => r.headers['webhook-id'] === commandIdFor('new-schema-1', 'hook', 0) });
    expect(new Webhook(secret.secret).verify(late.body, late.headers)).toEqual(JSON.parse(late.body));
    expect(receiver.received).toHaveLength(21);
    expect(await countRecords(ctx().kafka, topics.deadLetterEvents)).toBe(0);
  }, 180_000);
});
