import { Partitioners, Producer } from 'kafkajs';
import { LeadCommand, LogRecord, RecordTopicKey, commandIdFor, leadKey, triggerKey } from '@triggers/contracts';
import { createTopicsAndWait } from '@triggers/kafka';
import {
  EVENT_LOGS_COLLECTION,
  EventLogDocument,
  LEADS_COLLECTION,
  MongoHandle,
  connectMongo,
  ensureEventLogIndexes,
  eventLogsCollection,
  importLeads,
  importLists,
  toEventLogDocument,
} from '@triggers/mongo';
import { AppProcess, TestContext, freePort, startApp, uniqueId, waitFor, waitForHealthy } from '@triggers/testing';
import { report } from './bench-report';
import { webhookRecord } from '@triggers/testing';
import { benchContext } from './infra';

const RECORDS = 20_000;
const RAW_BATCH = 500;
const LEADS = 2_000;

/**
 * The log-sink as a process writing the log topic into MongoDB (FerretDB here), beside the raw
 * driver inserting the same documents with insertMany in the same run; then the lead-mover's
 * moves/s against the embedded store.
 */
export async function logSinkBenchmark(): Promise<void> {
  const { ctx, stopInfra } = await benchContext();
  const producer = ctx.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const mongoBase = ctx.config.mongodbUri.replace(/\/[^/]*$/, '');
  try {
    const records = Array.from({ length: RECORDS }, (_, i) => webhookRecord(i));

    process.stderr.write(`raw insertMany: ${RECORDS} documents in batches of ${RAW_BATCH}\n`);
    const raw = await rawInsertMany(`${mongoBase}/${uniqueId('raw')}`, records);

    process.stderr.write(`log-sink: ${RECORDS} records\n`);
    const sink = await sinkRun(ctx, producer, `${mongoBase}/${uniqueId('sink')}`, records);

    process.stderr.write(`lead-mover: ${LEADS} moves\n`);
    const moves = await leadMoves(ctx, producer, `${mongoBase}/${uniqueId('leads')}`);

    report('log-sink', {
      setup: {
        records: RECORDS,
        avgRecordBytes: Math.round(JSON.stringify(records[0]).length),
        indexes: raw.indexes,
        server: 'FerretDB (the test profile)',
        rawBatch: RAW_BATCH,
      },
      sinkRecordsPerSecond: Math.round(sink),
      rawInsertManyPerSecond: Math.round(raw.perSecond),
      ratioToRaw: +(sink / raw.perSecond).toFixed(2),
      leadMoves: { leads: LEADS, movesPerSecond: Math.round(moves) },
    });
  } finally {
    await producer.disconnect();
    await stopInfra();
  }
}

async function withIndexes(uri: string): Promise<MongoHandle> {
  const mongo = await connectMongo(uri);
  // The log-sink's own indexes, so the raw inserts pay for the same ones.
  await ensureEventLogIndexes(eventLogsCollection(mongo.db));
  return mongo;
}

/** Documents/s of insertMany with the log-sink's indexes, and how many indexes that is (`_id`'s too). */
async function rawInsertMany(uri: string, records: LogRecord[]): Promise<{ perSecond: number; indexes: number }> {
  const mongo = await withIndexes(uri);
  try {
    const docs = records.map((r) => toEventLogDocument(r));
    const started = Date.now();
    const logs = mongo.db.collection<EventLogDocument>(EVENT_LOGS_COLLECTION);
    for (let i = 0; i < docs.length; i += RAW_BATCH) await logs.insertMany(docs.slice(i, i + RAW_BATCH), { ordered: false });
    return { perSecond: docs.length / ((Date.now() - started) / 1000), indexes: (await logs.indexes()).length };
  } finally {
    await mongo.db.dropDatabase();
    await mongo.client.close();
  }
}

async function produce(ctx: TestContext, producer: Producer, topic: string, records: RecordTopicKey, items: { key: string; value: unknown }[]): Promise<void> {
  for (let i = 0; i < items.length; i += 1000) {
    const messages = await Promise.all(items.slice(i, i + 1000).map(async (m) => ({ key: m.key, value: await ctx.serde.encode(records, m.value) })));
    await producer.send({ topic, messages });
  }
}

async function startOn(ctx: TestContext, app: string, env: Record<string, string>): Promise<AppProcess> {
  const process = startApp(app, { ...ctx.env, PORT: String(await freePort()), KAFKA_GROUP_ID: uniqueId(app), LOG_LEVEL: 'warn', ...env });
  await waitForHealthy(process, 120_000);
  return process;
}

/**
 * Items/s of an app by its own counter (`pattern` captures it), from the first counted to
 * `expected`: polling the database instead would load the server under test.
 */
async function rateOf(app: AppProcess, pattern: RegExp, expected: number): Promise<number> {
  // Timed from the first count seen, so only what was counted after it is in the rate.
  let first = 0;
  let atFirst = 0;
  await waitFor(
    async () => {
      const n = Number(pattern.exec(await (await fetch(`http://127.0.0.1:${app.port}/metrics`)).text())?.[1] ?? 0);
      if (n > 0 && !first) [first, atFirst] = [Date.now(), n];
      return n >= expected;
    },
    { timeoutMs: 600_000, intervalMs: 20, description: `${expected} counted by ${app.name}` },
  );
  return (expected - atFirst) / ((Date.now() - first) / 1000);
}

/** Records/s from the first document stored to the last, all records waiting on the topic. */
async function sinkRun(ctx: TestContext, producer: Producer, uri: string, records: LogRecord[]): Promise<number> {
  const topic = `${ctx.namespace}.bench.log.${uniqueId('l')}`;
  await createTopicsAndWait(ctx.admin, [{ topic, numPartitions: 3 }]);
  await produce(
    ctx,
    producer,
    topic,
    'log',
    records.map((r) => ({ key: triggerKey(r.tenantId, r.triggerId!), value: r })),
  );
  const mongo = await withIndexes(uri);
  const app = await startOn(ctx, 'log-sink', { MONGODB_URI: uri, TOPIC_LOG: topic });
  try {
    const rate = await rateOf(app, /triggers_log_sink_records_total\{[^}]*\} (\d+)/, records.length);
    const stored = await mongo.db.collection(EVENT_LOGS_COLLECTION).countDocuments();
    if (stored !== records.length) throw new Error(`${stored} documents stored, expected ${records.length}`);
    return rate;
  } finally {
    await app.stop(10_000);
    await mongo.db.dropDatabase();
    await mongo.client.close();
  }
}

/** Moves/s of the lead-mover with every command waiting: each lead to another list of its campaign. */
async function leadMoves(ctx: TestContext, producer: Producer, uri: string): Promise<number> {
  const topic = `${ctx.namespace}.bench.lead.${uniqueId('c')}`;
  await createTopicsAndWait(ctx.admin, [{ topic, numPartitions: 3 }]);
  const mongo = await connectMongo(uri);
  const tenantId = 'bench-tenant';
  await importLists(mongo.db, tenantId, [
    { listId: '100', campaignId: '1695', name: 'New' },
    { listId: '445', campaignId: '1695', name: 'Callback' },
  ]);
  await importLeads(
    mongo.db,
    tenantId,
    Array.from({ length: LEADS }, (_, i) => ({ leadId: String(i), campaignId: '1695', listId: '100' })),
  );
  const commands: LeadCommand[] = Array.from({ length: LEADS }, (_, i) => ({
    commandId: commandIdFor(`evt-${i}`, 'trigger-1', 0),
    tenantId,
    triggerId: 'trigger-1',
    eventId: `evt-${i}`,
    eventType: 'agent.wrap',
    leadId: String(i),
    campaignId: '1695',
    toListId: '445',
  }));
  await produce(
    ctx,
    producer,
    topic,
    'leadCommands',
    commands.map((c) => ({ key: leadKey(c.tenantId, c.leadId), value: c })),
  );
  const app = await startOn(ctx, 'lead-mover', { MONGODB_URI: uri, TOPIC_LEAD_COMMANDS: topic });
  try {
    const rate = await rateOf(app, /triggers_lead_commands_total\{[^}]*outcome="moved"[^}]*\} (\d+)/, LEADS);
    // The counter counts outcomes, a command replayed after a rebalance again (`lead.moved` once
    // more, same log id): it can reach LEADS before the last leads are moved.
    const onOld = () => mongo.db.collection(LEADS_COLLECTION).countDocuments({ tenantId, listId: '100' });
    await waitFor(async () => (await onOld()) === 0, { timeoutMs: 120_000, intervalMs: 250, description: 'every lead moved' }).catch(() => undefined);
    const stillOnOld = await onOld();
    if (stillOnOld !== 0) throw new Error(`${stillOnOld} leads were not moved; the lead-mover's last words:\n${app.output().slice(-4000)}`);
    return rate;
  } finally {
    await app.stop(10_000);
    await mongo.db.dropDatabase();
    await mongo.client.close();
  }
}
