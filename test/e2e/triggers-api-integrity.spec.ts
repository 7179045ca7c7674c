import { Webhook } from 'standardwebhooks';
import type { TriggerConfigRecord, WebhookCommand } from '@triggers/contracts';
import { newSecretsKey } from '@triggers/secrets';
import {
  ApiClient,
  AppProcess,
  PipelineDriver,
  createTenantKey,
  readDecoded,
  readTopic,
  specPayload,
  startApi,
  startHealthyApp,
  startWebhookReceiver,
  testWebhookCommand,
  useTestContext,
  waitFor,
} from '@triggers/testing';

const hook = (url: string, campaign: string) => ({
  name: `campaign ${campaign}`,
  eventType: 'agent.wrap',
  enabled: true,
  parameters: JSON.stringify({
    conditions: [{ reference: 'campaignId', operator: '=', value: campaign }],
    actions: [{ action: 'webhook', parameters: { url } }],
  }),
});

/** The last record of each key on the config topic, decoded. */
async function lastConfigRecords(
  ctx: ReturnType<ReturnType<typeof useTestContext>>,
  expected: number,
): Promise<Map<string, { record: TriggerConfigRecord | null; headers: Record<string, string> }>> {
  const messages = await readTopic(ctx.kafka, ctx.config.kafka.topics.triggerConfig, { expected, timeoutMs: 10_000 });
  const last = new Map<string, { record: TriggerConfigRecord | null; headers: Record<string, string> }>();
  for (const m of messages) {
    const headers = Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]));
    last.set(m.key!.toString(), { record: m.value ? (await ctx.serde.decode<TriggerConfigRecord>(m.value)).value : null, headers });
  }
  return last;
}

describe('triggers-api: trigger changes are never lost or diverged', () => {
  const ctx = useTestContext({ topics: true });
  let api: { app: AppProcess; client: ApiClient };
  let client: ApiClient;

  beforeAll(async () => {
    api = await startApi(ctx(), { CONFIG_REDRIVE_INTERVAL_MS: '1000' });
    client = api.client.withKey(await createTenantKey(ctx(), 'racers'));
  });
  afterAll(() => api?.app.stop());

  it('20 concurrent If-Match writers, 20 rounds on FerretDB: one 200 each round, the winner stored and on the config topic', async () => {
    const created = await client.post('/v1/triggers', hook('https://hooks.example/0', '0'));
    expect(created.status).toBe(201);
    const id = created.body.id;
    let version = created.body.version as number;
    for (let round = 1; round <= 20; round++) {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, w) =>
          client.patch(`/v1/triggers/${id}`, hook(`https://hooks.example/${round}-${w}`, `${round}-${w}`), { 'If-Match': String(version) }),
        ),
      );
      const ok = answers.filter((a) => a.status === 200);
      expect({ round, ok: ok.length, conflicts: answers.filter((a) => a.status === 409).length }).toEqual({ round, ok: 1, conflicts: 19 });
      const winner = ok[0].body;
      expect(winner.version).toBe(version + 1);
      const stored = await client.get(`/v1/triggers/${id}`);
      expect(stored.body).toMatchObject({ version: winner.version, name: winner.name, parametersText: winner.parametersText });
      version = winner.version;
    }
    // The config topic's last record of the trigger is what is stored (the winner of the last round).
    const stored = (await client.get(`/v1/triggers/${id}`)).body;
    await waitFor(async () => (await lastConfigRecords(ctx(), 1)).get(`racers/${id}`)?.record?.version === stored.version, {
      timeoutMs: 20_000,
      description: 'the last version on the config topic',
    });
    const last = (await lastConfigRecords(ctx(), 1)).get(`racers/${id}`)!;
    expect(last.record).toMatchObject({
      version: stored.version,
      name: stored.name,
      conditions: stored.parameters.conditions,
      actions: stored.parameters.actions,
    });
    const { db } = await ctx().mongo();
    expect(last.headers.revision).toBe((await db.collection('triggers').findOne({ _id: id }))!.revision);

    // The matcher runs what is stored: an event meeting the stored condition fires, one meeting
    // a losing writer's condition does not.
    const matcher = await startHealthyApp(ctx().env, 'matcher');
    try {
      const winning = stored.parameters.conditions[0].value as string;
      const losing = winning === '20-0' ? '20-1' : '20-0';
      const wrap = specPayload('agent-wrap-inbound.json').event;
      const driver = new PipelineDriver(ctx());
      const [fires, doesNot] = await driver.events(
        'racers',
        [winning, losing].map((campaignId) => ({ type: wrap.type, payload: { ...(wrap.payload as object), campaignId } })),
      );
      await driver.close();
      const commands = (
        await readDecoded<WebhookCommand>(ctx(), ctx().config.kafka.topics.webhookCommands, { expected: 1, where: (c) => c.tenantId === 'racers' })
      ).map((m) => m.value);
      expect(commands.map((c) => [c.eventId, c.url])).toEqual([[fires, stored.parameters.actions[0].parameters.url]]);
      expect(commands.map((c) => c.eventId)).not.toContain(doesNot);
    } finally {
      await matcher.stop();
    }
  }, 180_000);

  it('writes without If-Match each get their own version', async () => {
    const created = await client.post('/v1/triggers', hook('https://hooks.example/n', 'n'));
    const answers = await Promise.all(Array.from({ length: 10 }, (_, w) => client.patch(`/v1/triggers/${created.body.id}`, { name: `writer ${w}` })));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(new Set(answers.map((a) => a.body.version)).size).toBe(10);
    expect((await client.get(`/v1/triggers/${created.body.id}`)).body.version).toBe(11);
  });

  it('a stale publish cannot mark a newer version published', async () => {
    const created = await client.post('/v1/triggers', hook('https://hooks.example/s', 's'));
    const id = created.body.id;
    const { db } = await ctx().mongo();
    const triggers = db.collection<{ _id: string; version: number; revision: string; dirty: boolean }>('triggers');
    const v1 = (await triggers.findOne({ _id: id }))!;
    await client.patch(`/v1/triggers/${id}`, { name: 'second' });
    // What a publisher that sent version 1 and was slow to mark it would do:
    const r = await triggers.updateOne({ _id: id, version: v1.version, revision: v1.revision }, { $set: { dirty: false, publishedVersion: v1.version } });
    expect(r.matchedCount).toBe(0);
    const now = (await triggers.findOne({ _id: id }))!;
    expect(now.version).toBe(2);
  });

  it('the reconciler repairs a record written wrong on purpose within one interval', async () => {
    const created = await client.post('/v1/triggers', hook('https://hooks.example/r', 'r'));
    const id = created.body.id;
    await waitFor(async () => (await lastConfigRecords(ctx(), 1)).get(`racers/${id}`)?.record?.version === 1, {
      description: 'the trigger on the config topic',
    });
    // Another writer puts a different trigger under the same key.
    const driver = new PipelineDriver(ctx());
    await driver.trigger('racers', id, {
      version: 1,
      name: 'forged',
      eventType: 'agent.wrap',
      enabled: true,
      conditions: [],
      actions: [{ action: 'webhook', parameters: { url: 'https://evil.example/' } }],
    });
    await driver.close();
    await waitFor(
      async () => {
        const last = (await lastConfigRecords(ctx(), 1)).get(`racers/${id}`);
        return last?.record?.name === 'campaign r' && last.headers.revision !== undefined;
      },
      { timeoutMs: 15_000, intervalMs: 500, description: 'the stored trigger published again over the forged record' },
    );
    const metrics = await (await fetch(`${api.client.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^triggers_config_divergent(\{[^}]*\})? \d+$/m);
  });
});

describe('signing secrets at rest', () => {
  const ctx = useTestContext({ topics: true });
  const running: AppProcess[] = [];
  afterAll(() => Promise.all(running.map((a) => a.stop())));

  it('are sealed in MongoDB and on the config topic, and webhooks still verify through a SECRETS_KEY rotation', async () => {
    const receiver = await startWebhookReceiver();
    const oldKey = ctx().env.SECRETS_KEY;
    const first = await startApi(ctx(), { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' });
    running.push(first.app);
    const client = first.client.withKey(await createTenantKey(ctx(), 'sealed'));
    const created = await client.post('/v1/triggers', {
      ...hook(receiver.url, 'x'),
      parameters: JSON.stringify({ conditions: [], actions: [{ action: 'webhook', parameters: { url: receiver.url } }] }),
    });
    const secret: string = created.body.webhookSecret;
    expect(secret).toMatch(/^whsec_/);
    const plainKey = secret.slice('whsec_'.length);
    // Nowhere at rest in plain text: not in the raw documents, not in the raw topic bytes.
    const { db } = await ctx().mongo();
    const rawDoc = JSON.stringify(await db.collection('triggers').findOne({ _id: created.body.id }));
    expect(rawDoc).not.toContain(plainKey);
    expect(rawDoc).toContain('enc:v1:');
    const raw = await readTopic(ctx().kafka, ctx().config.kafka.topics.triggerConfig, { expected: 1 });
    for (const m of raw) expect(m.value!.toString('latin1')).not.toContain(plainKey);

    // Rotate SECRETS_KEY: the API seals new secrets with the new key, the old one stays readable.
    const newKey = newSecretsKey('k2');
    await first.app.stop();
    const second = await startApi(ctx(), { SECRETS_KEY: newKey, SECRETS_KEYS_PREVIOUS: oldKey, WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' });
    running.push(second.app);
    const rotated = await second.client.withKey(await createTenantKey(ctx(), 'sealed')).post(`/v1/triggers/${created.body.id}/secrets:rotate`);
    expect(rotated.status).toBeLessThan(300);
    const dispatcher = await startHealthyApp(ctx().env, 'webhook-dispatcher', {
      SECRETS_KEY: newKey,
      SECRETS_KEYS_PREVIOUS: oldKey,
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
    });
    running.push(dispatcher);
    const command: WebhookCommand = testWebhookCommand({
      tenantId: 'sealed',
      triggerId: created.body.id,
      eventId: 'e-rot',
      url: receiver.url,
      body: '{"type":"agent.wrap","payload":{}}',
    });
    const driver = new PipelineDriver(ctx());
    await driver.webhookCommands([command]);
    await driver.close();
    const [req] = await receiver.waitFor(1);
    // Signed with both live secrets: the one sealed under the old key and the new one.
    for (const s of [secret, rotated.body.webhookSecret]) expect(new Webhook(s).verify(req.body, req.headers)).toEqual(JSON.parse(command.body));
    const logs = await readDecoded(ctx(), ctx().config.kafka.topics.log, { expected: 1 });
    expect(JSON.stringify(logs)).not.toContain(plainKey);
    await receiver.close();
  }, 120_000);
});
