import { LeadCommand } from '@triggers/contracts';
import { LEADS_COLLECTION, LeadDocument, importLeads, importLists } from '@triggers/mongo';
import { uniqueId, useTestContext } from '@triggers/testing';
import { applyLeadMoves } from '../../apps/lead-mover/src/services/lead-move.service';
import { MongoLeadsStore } from '../../apps/lead-mover/src/services/mongo-leads.store';

describe('the Mongo leads store, moving leads in bulk on FerretDB', () => {
  const ctx = useTestContext();
  const lists = [
    { listId: '100', campaignId: '1695', name: 'New' },
    { listId: '445', campaignId: '1695', name: 'Callback' },
    { listId: '900', campaignId: '7', name: 'Other campaign' },
  ];
  let seq = 0;
  const command = (tenantId: string, leadId: string, toListId: string): LeadCommand => ({
    commandId: `cmd-${++seq}`,
    tenantId,
    triggerId: 'trigger-1',
    eventId: `evt-${seq}`,
    eventType: 'agent.wrap',
    leadId,
    campaignId: '1695',
    toListId,
  });

  const setUp = async (leads: number) => {
    const tenantId = uniqueId('tenant');
    const { db } = await ctx().mongo();
    await importLists(db, tenantId, lists);
    await importLeads(
      db,
      tenantId,
      Array.from({ length: leads }, (_, i) => ({ leadId: String(i), campaignId: '1695', listId: '100' })),
    );
    const stored = async () =>
      (await db.collection<LeadDocument>(LEADS_COLLECTION).find({ tenantId }).toArray())
        .sort((a, b) => Number(a.leadId) - Number(b.leadId))
        .map((l) => [l.listId, l.appliedCommandIds ?? []]);
    return { tenantId, db, store: new MongoLeadsStore(db), stored };
  };

  it('moves a run of 60 leads (several writes) in order per lead, once per command, and leaves another tenant alone', async () => {
    const { tenantId, store, stored } = await setUp(30);
    const other = await setUp(1);
    const there = Array.from({ length: 30 }, (_, i) => command(tenantId, String(i), '445'));
    const back = Array.from({ length: 30 }, (_, i) => command(tenantId, String(i), '100'));
    const foreign = command(tenantId, '0', '445');
    foreign.tenantId = other.tenantId; // the other tenant's lead 0, by its own tenant
    const outcomes = await applyLeadMoves(store, [...there, ...back, foreign, there[0]]);
    expect(outcomes.slice(0, 60).every((o) => o.step === 'lead.moved' && !o.message.includes('again'))).toBe(true);
    expect(outcomes[60].message).toBe('moved lead 0 from list 100 to list 445 (campaign 1695)');
    expect(outcomes[61].message).toContain('recorded again for a repeated command');
    expect(await stored()).toEqual(Array.from({ length: 30 }, (_, i) => ['100', [there[i].commandId, back[i].commandId]]));
    expect(await other.stored()).toEqual([['445', [foreign.commandId]]]);
    // The same run again (a replay after a crash) changes nothing and records the same facts.
    const again = await applyLeadMoves(store, [...there, ...back]);
    expect(again.every((o) => o.step === 'lead.moved' && o.message.includes('recorded again'))).toBe(true);
    expect(await stored()).toEqual(Array.from({ length: 30 }, (_, i) => ['100', [there[i].commandId, back[i].commandId]]));
  });

  it('judges again a lead that another writer moved between the read and the write', async () => {
    const { tenantId, db, store, stored } = await setUp(3);
    const write = store.moveLeads.bind(store);
    store.moveLeads = async (moves) => {
      store.moveLeads = write;
      // A real concurrent change: someone puts lead 1 on 445 first.
      await db.collection<LeadDocument>(LEADS_COLLECTION).updateOne({ _id: `${tenantId}/1` }, { $set: { listId: '445' } });
      return write(moves);
    };
    const commands = [command(tenantId, '0', '445'), command(tenantId, '1', '445'), command(tenantId, '2', '900')];
    const outcomes = await applyLeadMoves(store, commands);
    expect(outcomes.map((o) => [o.step, o.message])).toEqual([
      ['lead.moved', 'moved lead 0 from list 100 to list 445 (campaign 1695)'],
      ['lead.noop', 'lead 1 is already on list 445'],
      ['lead.rejected', 'rejected: list 900 belongs to campaign 7, not 1695 (the campaign of lead 2)'],
    ]);
    expect(await stored()).toEqual([
      ['445', [commands[0].commandId]],
      ['445', []],
      ['100', []],
    ]);
  });

  it('imports again 200 leads already there (one write of them all stalled FerretDB for good), keeping what they applied', async () => {
    const { tenantId, db, store, stored } = await setUp(200);
    await applyLeadMoves(store, [command(tenantId, '7', '445')]);
    const rows = Array.from({ length: 200 }, (_, i) => ({ leadId: String(i), campaignId: '1695', listId: '445' }));
    expect(await importLeads(db, tenantId, rows)).toBe(200);
    expect(await importLists(db, tenantId, lists)).toBe(3);
    const after = await stored();
    expect(after.every(([listId]) => listId === '445')).toBe(true);
    expect(after[7][1]).toEqual([`cmd-${seq}`]);
  });
});
