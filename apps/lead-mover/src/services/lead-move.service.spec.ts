import fc from 'fast-check';
import { type LeadCommand, leadKey, listKey } from '@triggers/contracts';
import { applyLeadMove, applyLeadMoves, planLeadMoves } from './lead-move.service';
import { BulkLeadsStore, Lead, LeadList, LeadRef, ListRef, MoveResult, PlannedMove } from './leads.store';

/** A leads store in memory, with the Mongo adapter's conditions (a unit test's collaborator). */
class MemoryLeadsStore implements BulkLeadsStore {
  readonly leads = new Map<string, Required<Lead>>();
  readonly lists = new Map<string, LeadList>();
  writes = 0;
  /** Runs before each bulk write: a concurrent change. */
  beforeWrite?: () => void;

  constructor(leads: Lead[], lists: LeadList[], tenantId = 't1') {
    for (const l of leads) this.leads.set(leadKey(tenantId, l.leadId), { appliedCommandIds: [], ...l });
    for (const l of lists) this.lists.set(listKey(tenantId, l.listId), l);
  }

  async getLead(tenantId: string, leadId: string): Promise<Lead | null> {
    const lead = this.leads.get(leadKey(tenantId, leadId));
    return lead ? { ...lead, appliedCommandIds: [...lead.appliedCommandIds] } : null;
  }
  async getList(tenantId: string, listId: string): Promise<LeadList | null> {
    return this.lists.get(listKey(tenantId, listId)) ?? null;
  }
  async moveLead(tenantId: string, leadId: string, fromListId: string, toListId: string, commandId: string): Promise<MoveResult> {
    return (await this.moveLeads([{ tenantId, leadId, fromListId, toListId, commandIds: [commandId] }])) === 1
      ? 'moved'
      : this.leads.has(leadKey(tenantId, leadId))
        ? 'conflict'
        : 'not_found';
  }
  async getLeads(refs: LeadRef[]): Promise<Map<string, Lead>> {
    const found = new Map<string, Lead>();
    for (const r of refs) {
      const lead = await this.getLead(r.tenantId, r.leadId);
      if (lead) found.set(leadKey(r.tenantId, r.leadId), lead);
    }
    return found;
  }
  async getLists(refs: ListRef[]): Promise<Map<string, LeadList>> {
    return new Map(
      refs
        .filter((r) => this.lists.has(listKey(r.tenantId, r.listId)))
        .map((r) => [listKey(r.tenantId, r.listId), this.lists.get(listKey(r.tenantId, r.listId))!]),
    );
  }
  async moveLeads(moves: PlannedMove[]): Promise<number> {
    this.beforeWrite?.();
    this.writes++;
    let modified = 0;
    for (const m of moves) {
      const lead = this.leads.get(leadKey(m.tenantId, m.leadId));
      if (!lead || lead.listId !== m.fromListId || m.commandIds.some((id) => lead.appliedCommandIds.includes(id))) continue;
      lead.listId = m.toListId;
      lead.appliedCommandIds.push(...m.commandIds);
      modified++;
    }
    return modified;
  }
  async close(): Promise<void> {}
}

const LISTS: LeadList[] = [
  { listId: 'a', campaignId: 'c1' },
  { listId: 'b', campaignId: 'c1' },
  { listId: 'c', campaignId: 'c1' },
  { listId: 'x', campaignId: 'c2' },
];
const LEADS: Lead[] = ['1', '2', '3'].map((leadId) => ({ leadId, campaignId: 'c1', listId: 'a' }));

const command = (n: number, leadId: string, toListId: string, commandId = `cmd-${n}`): LeadCommand => ({
  commandId,
  tenantId: 't1',
  triggerId: 'trigger-1',
  eventId: `evt-${n}`,
  eventType: 'agent.wrap',
  leadId,
  campaignId: 'c1',
  toListId,
});

describe('lead moves in bulk', () => {
  it('judges a run like the commands one after the other: per-lead order, repeats, noops and rejections', async () => {
    const commands = [
      command(1, '1', 'b'),
      command(2, '1', 'b', 'cmd-1'), // delivered twice
      command(3, '1', 'b'), // already there after cmd-1
      command(4, '2', 'x'), // another campaign
      command(5, '1', 'c'), // a second move of lead 1: b → c
      command(6, '9', 'b'), // no such lead
      command(7, '2', 'nope'),
    ];
    const store = new MemoryLeadsStore(LEADS, LISTS);
    const outcomes = await applyLeadMoves(store, commands);
    expect(outcomes.map((o) => [o.step, o.message])).toEqual([
      ['lead.moved', 'moved lead 1 from list a to list b (campaign c1)'],
      ['lead.moved', 'moved lead 1 to list b (campaign c1); recorded again for a repeated command'],
      ['lead.noop', 'lead 1 is already on list b'],
      ['lead.rejected', 'rejected: list x belongs to campaign c2, not c1 (the campaign of lead 2)'],
      ['lead.moved', 'moved lead 1 from list b to list c (campaign c1)'],
      ['lead.rejected', 'rejected: lead 9 not found'],
      ['lead.rejected', 'rejected: list nope not found'],
    ]);
    // One write for the whole run; lead 1 moved once from a, carrying both commands.
    expect(store.writes).toBe(1);
    expect(store.leads.get('t1/1')).toMatchObject({ listId: 'c', appliedCommandIds: ['cmd-1', 'cmd-5'] });
    expect(store.leads.get('t1/2')).toMatchObject({ listId: 'a', appliedCommandIds: [] });
  });

  it('plans one write per moved lead, from the list it was read on', () => {
    const leads = new Map(LEADS.map((l) => [leadKey('t1', l.leadId), l]));
    const lists = new Map(LISTS.map((l) => [listKey('t1', l.listId), l]));
    const plan = planLeadMoves([command(1, '1', 'b'), command(2, '2', 'c'), command(3, '1', 'a')], leads, lists);
    expect(plan.moves).toEqual([
      { tenantId: 't1', leadId: '1', fromListId: 'a', toListId: 'a', commandIds: ['cmd-1', 'cmd-3'] },
      { tenantId: 't1', leadId: '2', fromListId: 'a', toListId: 'c', commandIds: ['cmd-2'] },
    ]);
    // What was read is left as read.
    expect(LEADS[0]).toEqual({ leadId: '1', campaignId: 'c1', listId: 'a' });
  });

  it('judges again, one by one, the commands of a lead that changed list between the read and the write', async () => {
    const store = new MemoryLeadsStore(LEADS, LISTS);
    store.beforeWrite = () => {
      store.beforeWrite = undefined;
      store.leads.get('t1/1')!.listId = 'c'; // someone else moved lead 1
    };
    const outcomes = await applyLeadMoves(store, [command(1, '1', 'b'), command(2, '2', 'b'), command(3, '1', 'c')]);
    expect(outcomes.map((o) => o.message)).toEqual([
      'moved lead 1 from list c to list b (campaign c1)',
      'moved lead 2 from list a to list b (campaign c1)',
      'moved lead 1 from list b to list c (campaign c1)',
    ]);
    expect(store.leads.get('t1/1')).toMatchObject({ listId: 'c', appliedCommandIds: ['cmd-1', 'cmd-3'] });
  });

  it('records as the same facts a run tried again after its write went through but its answer was lost', async () => {
    const store = new MemoryLeadsStore(LEADS, LISTS);
    const commands = [command(1, '1', 'b'), command(2, '2', 'x'), command(3, '3', 'c')];
    const write = store.moveLeads.bind(store);
    store.moveLeads = async (moves) => {
      await write(moves);
      throw new Error('connection reset');
    };
    await expect(applyLeadMoves(store, commands)).rejects.toThrow('connection reset');
    store.moveLeads = write;
    expect((await applyLeadMoves(store, commands)).map((o) => o.step)).toEqual(['lead.moved', 'lead.rejected', 'lead.moved']);
    expect([...store.leads.values()].map((l) => l.appliedCommandIds)).toEqual([['cmd-1'], [], ['cmd-3']]);
  });

  it('gives the outcomes and lead states of applying the commands one by one, for any commands in any runs', async () => {
    const arbCommand = fc.record({
      leadId: fc.constantFrom('1', '2', '3', '4'),
      toListId: fc.constantFrom('a', 'b', 'c', 'x', 'nope'),
      repeat: fc.nat(9),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(arbCommand, { maxLength: 30 }), fc.integer({ min: 1, max: 12 }), async (drawn, runSize) => {
        // A repeat delivers an earlier command again (same id, same content).
        const commands: LeadCommand[] = [];
        drawn.forEach((d, n) => commands.push(d.repeat < 2 && commands.length > 0 ? commands[d.repeat % commands.length] : command(n, d.leadId, d.toListId)));
        const oneByOne = new MemoryLeadsStore(LEADS, LISTS);
        const expected = [];
        for (const c of commands) expected.push(await applyLeadMove(oneByOne, c));
        const bulk = new MemoryLeadsStore(LEADS, LISTS);
        const got = [];
        for (let i = 0; i < commands.length; i += runSize) got.push(...(await applyLeadMoves(bulk, commands.slice(i, i + runSize))));
        expect(got).toEqual(expected);
        expect([...bulk.leads.entries()]).toEqual([...oneByOne.leads.entries()]);
      }),
      { numRuns: 300 },
    );
  });
});
