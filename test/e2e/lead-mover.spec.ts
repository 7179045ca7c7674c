import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { LeadCommand, LogRecord, commandIdFor } from '@triggers/contracts';
import { LEADS_COLLECTION, LeadDocument, importLeads, importLists } from '@triggers/mongo';
import {
  AppProcess,
  PipelineDriver,
  readDecoded,
  readTopic,
  repoRoot,
  startHealthyApp,
  startScratchFerretDB,
  uniqueId,
  useTestContext,
  waitFor,
} from '@triggers/testing';

const run = promisify(execFile);

describe('lead-mover', () => {
  const ctx = useTestContext({ topics: true });
  let driver: PipelineDriver;
  const running: AppProcess[] = [];

  beforeAll(() => {
    driver = new PipelineDriver(ctx());
  });

  afterAll(async () => {
    await Promise.all(running.map((a) => a.stop()));
    await driver.close();
  });

  const lists = [
    { listId: '100', campaignId: '1695', name: 'New' },
    { listId: '445', campaignId: '1695', name: 'Callback' },
    { listId: '900', campaignId: '7', name: 'Other campaign' },
  ];
  const leads = (n: number) => Array.from({ length: n }, (_, i) => ({ leadId: String(131406 + i), campaignId: '1695', listId: '100' }));

  let seq = 0;
  const command = (tenantId: string, leadId: string, toListId: string, commandId = commandIdFor(`evt-${++seq}`, 'trigger-1', 0)): LeadCommand => ({
    commandId,
    tenantId,
    triggerId: 'trigger-1',
    eventId: `evt-${seq}`,
    eventType: 'agent.wrap',
    leadId,
    campaignId: '20161', // what the event said: not trusted, the store's campaign decides
    toListId,
  });

  const outcomesOf = async (tenantId: string, expected: number) =>
    (await readDecoded<LogRecord>(ctx(), ctx().config.kafka.topics.log, { expected, where: (r) => r.tenantId === tenantId })).map((r) => r.value);

  describe('with the embedded MongoDB store', () => {
    let mover: AppProcess;
    beforeAll(async () => {
      mover = await startHealthyApp(ctx().env, 'lead-mover');
    });
    // Stopped before the outage test, whose commands it would otherwise judge too.
    afterAll(() => mover.stop());

    it('imports lists and leads with the admin CLI, refusing a bad file whole', async () => {
      const tenantId = uniqueId('tenant');
      const dir = mkdtempSync(join(tmpdir(), 'leads-'));
      writeFileSync(join(dir, 'lists.json'), JSON.stringify(lists));
      writeFileSync(join(dir, 'leads.csv'), 'leadId,campaignId,listId\n131406,1695,100\n131409,1695,445\n');
      writeFileSync(join(dir, 'bad.csv'), 'leadId,campaignId,listId\n1,1695,100\n2,,100\n');
      const admin = (args: string[]) =>
        run('npm', ['run', '-s', 'admin', '--', ...args], { cwd: repoRoot(), env: { ...process.env, ...ctx().env } }).then(
          (r) => ({ code: 0, ...r }),
          (e: { code: number; stdout: string; stderr: string }) => e,
        );
      expect(await admin(['lists', 'import', '--tenant', tenantId, '--file', join(dir, 'lists.json')])).toMatchObject({
        code: 0,
        stderr: expect.stringContaining('imported 3 lists'),
      });
      expect(await admin(['leads', 'import', '--tenant', tenantId, '--file', join(dir, 'leads.csv')])).toMatchObject({
        code: 0,
        stderr: expect.stringContaining('imported 2 leads'),
      });
      const bad = await admin(['leads', 'import', '--tenant', tenantId, '--file', join(dir, 'bad.csv')]);
      expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('row 2: campaignId') });
      const { db } = await ctx().mongo();
      const stored = await db.collection<LeadDocument>(LEADS_COLLECTION).find({ tenantId }).sort({ leadId: 1 }).toArray();
      expect(stored.map((l) => [l.leadId, l.campaignId, l.listId])).toEqual([
        ['131406', '1695', '100'],
        ['131409', '1695', '445'],
      ]);
    });

    it('moves a lead within its campaign, applies a repeated command once, and says why it rejects', async () => {
      const tenantId = uniqueId('tenant');
      const { db } = await ctx().mongo();
      await importLists(db, tenantId, lists);
      await importLeads(db, tenantId, leads(2));
      const move = command(tenantId, '131406', '445');
      const commands = [
        move,
        move, // delivered twice: applied once
        command(tenantId, '131406', '445'), // another command to the list it is on now
        command(tenantId, '999999', '445'),
        command(tenantId, '131407', '404'),
        command(tenantId, '131407', '900'),
      ];
      await driver.leadCommands(commands);
      const logs = await outcomesOf(tenantId, 6);
      expect(new Set(logs.filter((l) => l.commandId !== move.commandId).map((l) => l.logId)).size).toBe(4);
      const byCommand = (c: LeadCommand) => logs.filter((l) => l.commandId === c.commandId).map((l) => [l.step, l.status, l.message]);
      // One fact, one log id: the repeat records the same lead.moved again (at least once on the
      // topic, once in MongoDB), never a noop.
      const ofMove = logs.filter((l) => l.commandId === move.commandId);
      expect(ofMove.length).toBeGreaterThanOrEqual(2);
      expect(new Set(ofMove.map((l) => l.step))).toEqual(new Set(['lead.moved']));
      expect(new Set(ofMove.map((l) => l.logId)).size).toBe(1);
      expect(byCommand(move)[0]).toEqual(['lead.moved', 'ok', 'moved lead 131406 from list 100 to list 445 (campaign 1695)']);
      expect(byCommand(commands[2])).toEqual([['lead.noop', 'info', 'lead 131406 is already on list 445']]);
      expect(byCommand(commands[3])).toEqual([['lead.rejected', 'failed', 'rejected: lead 999999 not found']]);
      expect(byCommand(commands[4])).toEqual([['lead.rejected', 'failed', 'rejected: list 404 not found']]);
      expect(byCommand(commands[5])).toEqual([['lead.rejected', 'failed', 'rejected: list 900 belongs to campaign 7, not 1695 (the campaign of lead 131407)']]);
      const stored = await db.collection<LeadDocument>(LEADS_COLLECTION).find({ tenantId }).sort({ leadId: 1 }).toArray();
      expect(stored.map((l) => l.listId)).toEqual(['445', '100']);
      expect(stored[0].appliedCommandIds).toEqual([move.commandId]);
    });

    it('dead-letters an unreadable command and goes on', async () => {
      const tenantId = uniqueId('tenant');
      const { db } = await ctx().mongo();
      await importLists(db, tenantId, lists);
      await importLeads(db, tenantId, leads(1));
      await driver.raw(ctx().config.kafka.topics.leadCommands, Buffer.from('garbage'), `${tenantId}/131406`);
      await driver.leadCommands([command(tenantId, '131406', '445')]);
      expect((await outcomesOf(tenantId, 1)).map((l) => l.step)).toEqual(['lead.moved']);
      const dead = await readTopic(ctx().kafka, ctx().config.kafka.topics.deadLetterLead, { expected: 1 });
      expect(dead[0].headers?.['dlq-reason']?.toString()).toContain('not Confluent Avro');
    });
  });

  it('rides out a leads store outage: every command applied once after it returns, in order per lead', async () => {
    const ferret = await startScratchFerretDB();
    const uri = ferret.uri(ctx().namespace);
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 2000 });
    const app = await startHealthyApp(ctx().env, 'lead-mover', { MONGODB_URI: uri, KAFKA_GROUP_ID: uniqueId('movers') });
    running.push(app);
    try {
      const tenantId = uniqueId('tenant');
      await importLists(client.db(), tenantId, lists);
      await importLeads(client.db(), tenantId, leads(50));
      await ferret.stop();
      // Each lead goes 100 → 445 → 100: only applied in order does it end on 100 with two moves.
      const there = leads(50).map((l) => command(tenantId, l.leadId, '445'));
      const back = leads(50).map((l) => command(tenantId, l.leadId, '100'));
      await driver.leadCommands([...there, ...back]);
      await waitFor(() => app.output().includes('"dependency":"leadsStore"'), { timeoutMs: 30_000, description: 'the mover to notice the outage' });
      await ferret.start();
      const logs = await outcomesOf(tenantId, 100 + 1);
      const moves = logs.filter((l) => l.step === 'lead.moved');
      // One lead.moved fact per command (a replayed one repeats its log id, never a new fact).
      expect(new Set(moves.map((l) => l.logId)).size).toBe(100);
      expect(new Set(moves.map((l) => l.commandId)).size).toBe(100);
      expect(logs.some((l) => l.step === 'lead.failed' && l.message!.startsWith('failed, will retry'))).toBe(true);
      const stored = await client.db().collection<LeadDocument>(LEADS_COLLECTION).find({ tenantId }).toArray();
      expect(stored.map((l) => l.listId)).toEqual(Array(50).fill('100'));
      for (const l of stored) expect(l.appliedCommandIds).toHaveLength(2);
    } finally {
      await client.close();
      await app.stop();
      await ferret.dispose();
    }
  }, 120_000);
});
