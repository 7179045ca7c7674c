import { LeadCommand, commandIdFor } from '@triggers/contracts';
import { LEADS_COLLECTION, LeadDocument, importLeads, importLists } from '@triggers/mongo';
import { AppProcess, PipelineDriver, TcpProxy, createTcpProxy, startHealthyApp, uniqueId, useTestContext, waitFor } from '@triggers/testing';

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
    await importLists(db, tenantId, [
      { listId: '100', campaignId: '1695', name: 'New' },
      { listId: '445', campaignId: '1695', name: 'Callback' },
    ]);
    const leadIds = Array.from({ length: 300 }, (_, i) => String(900_000 + i));
    await importLeads(db, tenantId, leadIds.map((leadId) => ({ leadId, campaignId: '1695', listId: '100' })));
    mover = await startHealthyApp(ctx().env, 'lead-mover', { MONGODB_URI: `mongodb://127.0.0.1:${mongo.port}/${ctx().namespace}` });
    const commands: LeadCommand[] = leadIds.map((leadId, i) => ({
      commandId: commandIdFor(`m-${i}`, 'mover', 0),
      tenantId,
      triggerId: 'mover',
      eventId: `m-${i}`,
      eventType: 'agent.wrap',
      leadId,
      campaignId: '1695',
      toListId: '445',
    }));
    await driver.leadCommands(commands);
    const leads = db.collection<LeadDocument>(LEADS_COLLECTION);
    const moved = () => leads.countDocuments({ tenantId, listId: '445' });
    await waitFor(async () => (await moved()) >= 20, { timeoutMs: 30_000, description: 'the first moves' });
    await mongo.stop();
    await new Promise((r) => setTimeout(r, 20_000));
    const during = await moved();
    expect(during).toBeLessThan(leadIds.length);
    await mongo.start();
    await waitFor(async () => (await moved()) === leadIds.length, { timeoutMs: 120_000, intervalMs: 500, description: `every lead moved (have ${await moved()})` });
    const stored = await leads.find({ tenantId }).toArray();
    expect(stored.every((l) => l.appliedCommandIds.length === 1)).toBe(true);
    expect(mover.output()).toContain('"dependency":"leadsStore"');
  }, 200_000);
});
