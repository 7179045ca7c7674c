import type { Collection, Db } from 'mongodb';
import { classify } from '@triggers/errors';
import { APPLIED_COMMANDS_KEPT, LEADS_COLLECTION, LISTS_COLLECTION, LeadDocument, ListDocument, ensureLeadIndexes } from '@triggers/mongo';
import { Lead, LeadList, LeadsStore, LeadsStoreUnavailableError, MoveResult } from './leads.store';

/**
 * The embedded leads store: `leads` and `lists` collections in MongoDB (or FerretDB), filled with
 * `npm run admin -- leads import` / `lists import`. A move is one conditional update of the lead
 * that also records the command id, so it is atomic and a command is applied at most once.
 */
export class MongoLeadsStore implements LeadsStore {
  private readonly leads: Collection<LeadDocument>;
  private readonly lists: Collection<ListDocument>;

  constructor(private readonly db: Db) {
    this.leads = db.collection<LeadDocument>(LEADS_COLLECTION);
    this.lists = db.collection<ListDocument>(LISTS_COLLECTION);
  }

  async init(): Promise<void> {
    await unavailable('create indexes', () => ensureLeadIndexes(this.db));
  }

  async getLead(tenantId: string, leadId: string): Promise<Lead | null> {
    const doc = await unavailable('read the lead', () => this.leads.findOne({ _id: `${tenantId}/${leadId}` }));
    return doc ? { leadId: doc.leadId, campaignId: doc.campaignId, listId: doc.listId, appliedCommandIds: doc.appliedCommandIds ?? [] } : null;
  }

  async getList(tenantId: string, listId: string): Promise<LeadList | null> {
    const doc = await unavailable('read the list', () => this.lists.findOne({ _id: `${tenantId}/${listId}` }));
    return doc ? { listId: doc.listId, campaignId: doc.campaignId, name: doc.name } : null;
  }

  async moveLead(tenantId: string, leadId: string, fromListId: string, toListId: string, commandId: string): Promise<MoveResult> {
    const result = await unavailable('move the lead', () =>
      this.leads.updateOne(
        { _id: `${tenantId}/${leadId}`, listId: fromListId, appliedCommandIds: { $ne: commandId } },
        { $set: { listId: toListId, updatedAt: new Date() }, $push: { appliedCommandIds: { $each: [commandId], $slice: -APPLIED_COMMANDS_KEPT } } },
      ),
    );
    if (result.modifiedCount === 1) return 'moved';
    return (await this.getLead(tenantId, leadId)) ? 'conflict' : 'not_found';
  }

  async close(): Promise<void> {}
}

/** A store that did not answer (or refused us) is unavailable; an answer refusing this command's data stays what it is (poison). */
async function unavailable<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (classify(err).kind === 'poison') throw err;
    throw new LeadsStoreUnavailableError(`could not ${what}: ${(err as Error).message}`, err);
  }
}
