import { logIdFor, newLogRecord } from '@triggers/contracts';
import { EVENT_LOGS_COLLECTION, LEADS_COLLECTION, LeadDocument } from '@triggers/mongo';
import {
  AppProcess,
  PipelineDriver,
  TcpProxy,
  createTcpProxy,
  moveCommands,
  seedMovableLeads,
  freePort,
  startApp,
  startHealthyApp,
  uniqueId,
  useTestContext,
  waitFor,
} from '@triggers/testing';

/**
 * MongoDB (FerretDB) cut off for 20 s by a proxy the test stops, mid-flow, while the lead-mover
 * applies commands: the connections it had are cut under it, and it must carry on by itself once
 * the database answers again, every lead moved once.
 */
describe('a MongoDB outage under the lead-mover', () => {
  const ctx = useTestContext({ topics: true });
  let mongo: TcpProxy;
  let mover: AppProcess | undefined;
  let sink: AppProcess | undefined;
  let driver: PipelineDriver;

  beforeAll(async () => {
    driver = new PipelineDriver(ctx());
    const real = new URL(ctx().env.MONGODB_URI.replace('mongodb://', 'http://'));
    mongo = await createTcpProxy({ host: real.hostname, port: Number(real.port) }, { running: true });
  });
  afterAll(async () => {
    await mover?.stop();
    await sink?.stop();
    await mongo?.stop();
    await driver?.close();
  });

  it('moves every lead once after the database is back, with no restart', async () => {
    const tenantId = uniqueId('tenant');
    const db = (await ctx().mongo()).db;
    const leadIds = Array.from({ length: 300 }, (_, i) => String(900_000 + i));
    await seedMovableLeads(db, tenantId, leadIds);
    mover = await startHealthyApp(ctx().env, 'lead-mover', { MONGODB_URI: `mongodb://127.0.0.1:${mongo.port}/${ctx().namespace}` });
    await driver.leadCommands(moveCommands(tenantId, leadIds, 'm'));
    const leads = db.collection<LeadDocument>(LEADS_COLLECTION);
    const moved = () => leads.countDocuments({ tenantId, listId: '445' });
    await waitFor(async () => (await moved()) >= 20, { timeoutMs: 30_000, description: 'the first moves' });
    await mongo.stop();
    await new Promise((r) => setTimeout(r, 20_000));
    const during = await moved();
    expect(during).toBeLessThan(leadIds.length);
    await mongo.start();
    await waitFor(async () => (await moved()) === leadIds.length, {
      timeoutMs: 120_000,
      intervalMs: 500,
      description: `every lead moved (have ${await moved()})`,
    });
    const stored = await leads.find({ tenantId }).toArray();
    expect(stored.every((l) => l.appliedCommandIds.length === 1)).toBe(true);
    expect(mover.output()).toContain('"dependency":"leadsStore"');
  }, 200_000);

  it('a log-sink started while MongoDB is down stores every record once it is back, with no restart', async () => {
    const tenantId = uniqueId('tenant');
    await mongo.stop();
    // Not waited healthy: /healthz answers 503 (mongodb) until the database is back.
    sink = startApp('log-sink', { ...ctx().env, PORT: String(await freePort()), MONGODB_URI: `mongodb://127.0.0.1:${mongo.port}/${ctx().namespace}` });
    await waitFor(() => sink!.output().includes('MongoDB is not reachable yet'), { timeoutMs: 30_000, description: 'the log-sink up without its database' });
    const records = Array.from({ length: 50 }, (_, i) =>
      newLogRecord({ logId: logIdFor(tenantId, i), tenantId, triggerId: 'tr', step: 'matched', status: 'info', time: Date.now() }),
    );
    await driver.logRecords(records);
    // Its first writes fail against the closed port, and the driver gives up that first connection.
    await waitFor(() => sink!.output().includes('"dependency":"mongodb"'), { timeoutMs: 60_000, description: 'a write waiting for MongoDB' });
    await mongo.start();
    const logs = (await ctx().mongo()).db.collection(EVENT_LOGS_COLLECTION);
    await waitFor(async () => (await logs.countDocuments({ tenantId })) === records.length, {
      timeoutMs: 90_000,
      intervalMs: 500,
      description: `every record stored (have ${await logs.countDocuments({ tenantId })})`,
    });
  }, 200_000);
});
