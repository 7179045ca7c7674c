import { MongoServerError } from 'mongodb';
import { useTestContext } from '@triggers/testing';
import { pingMongo } from '@triggers/mongo';

describe('FerretDB as the MongoDB of the local system', () => {
  const ctx = useTestContext();

  it('answers a ping', async () => {
    const { db } = await ctx().mongo();
    expect(await pingMongo(db)).toBe(true);
  });

  it('inserts, finds and enforces a unique index', async () => {
    const { db } = await ctx().mongo();
    const leads = db.collection('leads');
    await leads.createIndex({ tenantId: 1, leadId: 1 }, { unique: true });
    await leads.insertOne({ tenantId: 'a', leadId: '131413', listId: '20583', campaignId: '20161' });
    await leads.insertOne({ tenantId: 'b', leadId: '131413', listId: '1', campaignId: '2' });
    const found = await leads.find({ tenantId: 'a' }).toArray();
    expect(found.map((d) => d.listId)).toEqual(['20583']);
    const duplicate = leads.insertOne({ tenantId: 'a', leadId: '131413', listId: 'x', campaignId: 'y' });
    await expect(duplicate).rejects.toBeInstanceOf(MongoServerError);
    await expect(duplicate).rejects.toMatchObject({ code: 11000 });
  });

  it('reads and moves a document by _id through the _id index, whatever else the filter says (deploy/local/ferretdb-patches)', async () => {
    const { db } = await ctx().mongo();
    const leads = db.collection<{ _id: string; listId: string }>('leads');
    await leads.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: `t/${i}`, listId: 'a' })));
    // The lead-mover's conditional move: an _id and a condition on another field.
    const plan = (await leads.find({ _id: 't/7', listId: 'a' }).explain()) as { filterPushdown?: boolean; queryPlanner?: { Plan?: string[] } };
    expect(plan.filterPushdown).toBe(true);
    expect(plan.queryPlanner?.Plan?.join('\n')).toMatch(/SEARCH \S+ USING INDEX \S+__id_/);
    // The whole filter still decides: the index only narrows what is read.
    expect(await leads.findOne({ _id: 't/7', listId: 'a' })).toEqual({ _id: 't/7', listId: 'a' });
    expect(await leads.findOne({ _id: 't/7', listId: 'b' })).toBeNull();
    expect((await leads.updateOne({ _id: 't/7', listId: 'b' }, { $set: { listId: 'c' } })).modifiedCount).toBe(0);
    expect((await leads.updateOne({ _id: 't/7', listId: 'a' }, { $set: { listId: 'c' } })).modifiedCount).toBe(1);
    expect(await leads.countDocuments({ listId: 'c' })).toBe(1);
    expect(await leads.findOne({ _id: 't/8' })).toEqual({ _id: 't/8', listId: 'a' });
  });

  it('refuses a key containing a dot, so stored triggers must normalise "lead.listId"', async () => {
    const { db } = await ctx().mongo();
    await expect(db.collection('probe').insertOne({ parameters: { 'lead.listId': '354' } })).rejects.toThrow();
  });
});
