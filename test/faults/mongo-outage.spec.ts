import { LEADS_COLLECTION, LeadDocument } from '@triggers/mongo';
import {
  AppProcess,
  PipelineDriver,
  TcpProxy,
  createTcpProxy,
  moveCommands,
  seedMovableLeads,
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
  let driver: PipelineDriver;

  beforeAll(async () => {
    driver = new PipelineDriver(ctx());
    const real = new URL(ctx().env.MONGODB_URI.replace('mongodb://', 'http://'));
    mongo = await createTcpProxy({ host: real.hostname, port: Number(real.port) }, { running: true });
  });
  afterAll(async () => {
    await mover?.stop();
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
});
