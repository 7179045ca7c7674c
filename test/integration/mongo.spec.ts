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

  it('refuses a key containing a dot, so stored triggers must normalise "lead.listId"', async () => {
    const { db } = await ctx().mongo();
    await expect(db.collection('probe').insertOne({ parameters: { 'lead.listId': '354' } })).rejects.toThrow();
  });
});
