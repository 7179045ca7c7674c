import type { TriggerConfigRecord } from '@triggers/contracts';
import { createTenantKey, freePort, readTopic, specTriggerParameters, startApi, useTestContext, waitFor } from '@triggers/testing';

describe('triggers-api: the outbox and rate limits', () => {
  const ctx = useTestContext({ topics: true });

  it('publishes a change stored just before a crash when it starts again', async () => {
    const key = await createTenantKey(ctx(), 'acme');
    // Kafka unreachable: the write is stored, the publish cannot happen; then the process dies.
    const deadBroker = `127.0.0.1:${await freePort()}`;
    const first = await startApi(ctx(), { KAFKA_BROKERS: deadBroker, CONFIG_PUBLISH_TIMEOUT_MS: '300' }, { healthy: false });
    const created = await first.client.withKey(key).post('/v1/triggers', {
      name: 'survives a crash',
      eventType: 'agent.wrap',
      enabled: true,
      parameters: specTriggerParameters()['webhook-on-agent-wrap.json'].text,
    });
    expect(created.status).toBe(201);
    first.app.child.kill('SIGKILL');
    await first.app.exited;

    const { db } = await ctx().mongo();
    const stored = await db.collection('triggers').findOne({ _id: created.body.id });
    expect(stored).toMatchObject({ dirty: true, publishedVersion: null, version: 1 });
    const topic = ctx().config.kafka.topics.triggerConfig;
    expect(await readTopic(ctx().kafka, topic, { expected: 1, timeoutMs: 1000 })).toHaveLength(0);

    const second = await startApi(ctx());
    try {
      const messages = await readTopic(ctx().kafka, topic, { expected: 1 });
      expect(messages.map((m) => m.key?.toString())).toEqual([`acme/${created.body.id}`]);
      const record = (await ctx().serde.decode<TriggerConfigRecord>(messages[0].value)).value;
      expect(record).toMatchObject({ triggerId: created.body.id, version: 1, name: 'survives a crash' });
      await waitFor(async () => (await db.collection('triggers').findOne({ _id: created.body.id }))?.dirty === false, {
        description: 'the change marked published',
      });
    } finally {
      await second.app.stop();
    }
  });

  it('limits requests per API key', async () => {
    const { app, client } = await startApi(ctx(), { API_RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const a = client.withKey(await createTenantKey(ctx(), 'busy'));
      const b = client.withKey(await createTenantKey(ctx(), 'quiet'));
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await a.get('/v1/triggers')).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect((await b.get('/v1/triggers')).status).toBe(200);
      // Health checks are never limited.
      for (let i = 0; i < 5; i++) expect((await fetch(`${client.baseUrl}/healthz`)).status).toBe(200);
    } finally {
      await app.stop();
    }
  });
});
