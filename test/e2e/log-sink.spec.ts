import { Partitioners, Producer } from 'kafkajs';
import { LogRecord, logIdFor, newLogRecord, triggerKey } from '@triggers/contracts';
import { EVENT_LOGS_COLLECTION, endpointHealthOf } from '@triggers/mongo';
import { MongoClient } from 'mongodb';
import { AppProcess, readTopic, startHealthyApp, startScratchFerretDB, uniqueId, useTestContext, waitFor } from '@triggers/testing';

describe('log-sink', () => {
  const ctx = useTestContext({ topics: true });
  let producer: Producer;
  const running: AppProcess[] = [];

  beforeAll(async () => {
    producer = ctx().kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });

  afterAll(async () => {
    await Promise.all(running.map((a) => a.stop()));
    await producer.disconnect();
  });

  const startSink = async () => {
    const app = await startHealthyApp(ctx().env, 'log-sink');
    running.push(app);
    return app;
  };

  const record = (tenantId: string, i: number): LogRecord =>
    newLogRecord({
      logId: logIdFor(tenantId, i),
      tenantId,
      triggerId: 'trigger-1',
      eventId: `event-${i}`,
      eventType: 'agent.wrap',
      step: i % 2 ? 'webhook.attempt' : 'matched',
      status: i % 2 ? 'failed' : 'info',
      time: Date.parse('2026-01-01T00:00:00Z') + i,
      attempt: i % 2 ? 1 : null,
      message: `record ${i}`,
    });

  async function publish(records: LogRecord[]) {
    const topic = ctx().config.kafka.topics.log;
    for (let i = 0; i < records.length; i += 1000) {
      const chunk = records.slice(i, i + 1000);
      const messages = await Promise.all(chunk.map(async (r) => ({ key: triggerKey(r.tenantId, r.triggerId!), value: await ctx().serde.encode('log', r) })));
      await producer.send({ topic, messages });
    }
  }

  const countOf = async (tenantId: string) => (await ctx().mongo()).db.collection(EVENT_LOGS_COLLECTION).countDocuments({ tenantId });

  it('writes each record once, as the Event Logs document, and dead-letters unreadable ones', async () => {
    await startSink();
    const tenant = uniqueId('logs');
    const records = Array.from({ length: 50 }, (_, i) => record(tenant, i));
    await publish(records);
    await publish(records.slice(0, 10)); // a redelivered part changes nothing
    await producer.send({ topic: ctx().config.kafka.topics.log, messages: [{ key: 'poison', value: Buffer.from('not avro') }] });
    await waitFor(async () => (await countOf(tenant)) === 50, { timeoutMs: 20_000, description: '50 event log documents' });
    const { db } = await ctx().mongo();
    const doc = await db.collection(EVENT_LOGS_COLLECTION).findOne({ _id: records[3].logId as never });
    expect(doc).toMatchObject({
      tenantId: tenant,
      triggerId: 'trigger-1',
      eventId: 'event-3',
      step: 'webhook.attempt',
      status: 'failed',
      attempt: 1,
      message: 'record 3',
    });
    expect(doc!.time).toEqual(new Date(records[3].time));
    const dead = await readTopic(ctx().kafka, ctx().config.kafka.topics.deadLetterLog, { expected: 1 });
    expect(dead.map((m) => m.headers?.['dlq-reason']?.toString())).toEqual([expect.stringContaining('not Confluent Avro')]);
  });

  it("keeps each trigger's latest endpoint transition, whatever the order and repeats of its records", async () => {
    await startSink();
    const tenant = uniqueId('health');
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const transition = (triggerId: string, step: string, at: number) =>
      newLogRecord({
        logId: logIdFor(tenant, triggerId, step, at),
        tenantId: tenant,
        triggerId,
        step,
        status: step === 'endpoint.failing' ? 'failed' : 'ok',
        time: at,
        message: step,
      });
    // t1 fails, then recovers; t2's recovery is read before its (older) failure; t3's failure twice.
    await publish([transition('t1', 'endpoint.failing', t0), transition('t1', 'endpoint.recovered', t0 + 1000)]);
    await publish([transition('t2', 'endpoint.recovered', t0 + 2000), transition('t2', 'endpoint.failing', t0 + 1000)]);
    await publish([transition('t3', 'endpoint.failing', t0), transition('t3', 'endpoint.failing', t0)]);
    await waitFor(async () => (await countOf(tenant)) === 5, { timeoutMs: 20_000, description: '5 transition records stored' });
    const health = await endpointHealthOf((await ctx().mongo()).db, tenant, ['t1', 't2', 't3', 't4']);
    expect(Object.fromEntries(health)).toEqual({
      t1: { state: 'healthy', since: new Date(t0 + 1000).toISOString(), message: 'endpoint.recovered' },
      t2: { state: 'healthy', since: new Date(t0 + 2000).toISOString(), message: 'endpoint.recovered' },
      t3: { state: 'failing', since: new Date(t0).toISOString(), message: 'endpoint.failing' },
    });
    // Another tenant's trigger of the same id is not this tenant's.
    expect((await endpointHealthOf((await ctx().mongo()).db, uniqueId('other'), ['t1'])).size).toBe(0);
  });

  it('loses and doubles nothing across a kill -9 in the middle of 10,000 records', async () => {
    const tenant = uniqueId('crash');
    const records = Array.from({ length: 10_000 }, (_, i) => record(tenant, i));
    const first = await startSink();
    await publish(records.slice(0, 4000));
    await waitFor(async () => (await countOf(tenant)) > 0, { timeoutMs: 20_000, description: 'the sink to start writing' });
    first.child.kill('SIGKILL');
    await first.exited;
    await publish(records.slice(4000));
    await startSink();
    await waitFor(async () => (await countOf(tenant)) === 10_000, { timeoutMs: 60_000, intervalMs: 250, description: '10,000 documents' });
    const { db } = await ctx().mongo();
    const ids = await db
      .collection(EVENT_LOGS_COLLECTION)
      .find({ tenantId: tenant }, { projection: { _id: 1 } })
      .toArray();
    expect(new Set(ids.map((d) => String(d._id)))).toEqual(new Set(records.map((r) => r.logId)));
  });

  it('rides out MongoDB being down for 30 s under load: everything arrives, once', async () => {
    // A FerretDB of this test's own, so stopping it disturbs no other test.
    const ferret = await startScratchFerretDB();
    const mongoUri = ferret.uri(ctx().namespace);
    const app = await startHealthyApp(ctx().env, 'log-sink', { MONGODB_URI: mongoUri, KAFKA_GROUP_ID: uniqueId('sink') });
    running.push(app);
    const client = new MongoClient(mongoUri, { serverSelectionTimeoutMS: 2000 });
    try {
      const tenant = uniqueId('outage');
      const records = Array.from({ length: 3000 }, (_, i) => record(tenant, i));
      const count = () => client.db().collection(EVENT_LOGS_COLLECTION).countDocuments({ tenantId: tenant });
      await publish(records.slice(0, 1000));
      await waitFor(async () => (await count()) === 1000, { timeoutMs: 20_000, description: 'the first 1,000' });
      await ferret.stop();
      await publish(records.slice(1000, 2000));
      await new Promise((r) => setTimeout(r, 30_000)); // the outage under test
      await publish(records.slice(2000));
      await ferret.start();
      await waitFor(async () => (await count().catch(() => 0)) === 3000, { timeoutMs: 60_000, intervalMs: 250, description: 'all 3,000 after the outage' });
      const ids = await client
        .db()
        .collection(EVENT_LOGS_COLLECTION)
        .find({ tenantId: tenant }, { projection: { _id: 1 } })
        .toArray();
      expect(ids).toHaveLength(3000);
      expect(new Set(ids.map((d) => String(d._id))).size).toBe(3000);
      expect(app.output()).toContain('dependency unavailable; the message waits');
    } finally {
      await client.close();
      await app.stop();
      await ferret.dispose();
    }
  }, 180_000);
});
