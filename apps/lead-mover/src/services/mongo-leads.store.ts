import type { Collection, Db } from 'mongodb';
import { classify } from '@triggers/errors';
import { leadKey, listKey } from '@triggers/contracts';
import { APPLIED_COMMANDS_KEPT, LEADS_COLLECTION, bulkWriteInChunks, LISTS_COLLECTION, LeadDocument, ListDocument, ensureLeadIndexes } from '@triggers/mongo';
import { BulkLeadsStore, Lead, LeadList, LeadRef, LeadsStoreUnavailableError, ListRef, MoveResult, PlannedMove } from './leads.store';

/** Network failures in a row after which the store takes a fresh client. */
const RECONNECT_AFTER = 3;

/**
 * The embedded leads store: `leads` and `lists` collections in MongoDB (or FerretDB), filled with
 * `npm run admin -- leads import` / `lists import`. A move is one conditional update of the lead
 * that also records the command id, so it is atomic and a command is applied at most once. Many
 * leads are read with one query and moved with one ordered bulk write.
 */
export class MongoLeadsStore implements BulkLeadsStore {
  private leads!: Collection<LeadDocument>;
  private lists!: Collection<ListDocument>;
  /** Network failures in a row; past {@link RECONNECT_AFTER} the store takes a fresh client. */
  private networkFailures = 0;
  private reconnecting?: Promise<void>;

  /**
   * @param reconnect a fresh connection to the same database: taken when operations keep failing
   *   with network errors, so a client whose pool stays wedged after an outage (seen once under
   *   the fault suite: every read failing at once on one closed connection, minutes after the
   *   database was back) cannot hold the lead-mover up for good.
   */
  constructor(
    private db: Db,
    private readonly reconnect?: () => Promise<Db>,
    private readonly logger?: { warn(obj: object, msg: string): void },
  ) {
    this.use(db);
  }

  private use(db: Db): void {
    this.db = db;
    this.leads = db.collection<LeadDocument>(LEADS_COLLECTION);
    this.lists = db.collection<ListDocument>(LISTS_COLLECTION);
  }

  async init(): Promise<void> {
    await this.unavailable('create indexes', () => ensureLeadIndexes(this.db));
  }

  /** A store that did not answer (or refused us) is unavailable; an answer refusing this command's data stays what it is (poison). */
  private async unavailable<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      const result = await op();
      this.networkFailures = 0;
      return result;
    } catch (err) {
      if (classify(err).kind === 'poison') throw err;
      if ((err as Error).name === 'MongoNetworkError' && ++this.networkFailures >= RECONNECT_AFTER) this.reconnectSoon(err);
      throw new LeadsStoreUnavailableError(`could not ${what}: ${(err as Error).message}`, err);
    }
  }

  private reconnectSoon(cause: unknown): void {
    if (!this.reconnect || this.reconnecting) return;
    this.logger?.warn({ err: (cause as Error).message, failures: this.networkFailures }, 'leads store keeps failing on the network; taking a fresh connection');
    const old = this.db;
    this.reconnecting = this.reconnect()
      .then((db) => {
        this.use(db);
        this.networkFailures = 0;
        void (old as unknown as { client?: { close(): Promise<void> } }).client?.close().catch(() => undefined);
      })
      .catch(() => undefined)
      .finally(() => (this.reconnecting = undefined));
  }

  async getLead(tenantId: string, leadId: string): Promise<Lead | null> {
    const doc = await this.unavailable('read the lead', () => this.leads.findOne({ _id: leadKey(tenantId, leadId) }));
    return doc ? { leadId: doc.leadId, campaignId: doc.campaignId, listId: doc.listId, appliedCommandIds: doc.appliedCommandIds ?? [] } : null;
  }

  async getList(tenantId: string, listId: string): Promise<LeadList | null> {
    const doc = await this.unavailable('read the list', () => this.lists.findOne({ _id: listKey(tenantId, listId) }));
    return doc ? { listId: doc.listId, campaignId: doc.campaignId, name: doc.name } : null;
  }

  async getLeads(refs: LeadRef[]): Promise<Map<string, Lead>> {
    const ids = [...new Set(refs.map((r) => leadKey(r.tenantId, r.leadId)))];
    const docs = await this.unavailable('read the leads', () => this.leads.find({ _id: { $in: ids } }).toArray());
    return new Map(docs.map((d) => [d._id, { leadId: d.leadId, campaignId: d.campaignId, listId: d.listId, appliedCommandIds: d.appliedCommandIds ?? [] }]));
  }

  async getLists(refs: ListRef[]): Promise<Map<string, LeadList>> {
    const ids = [...new Set(refs.map((r) => listKey(r.tenantId, r.listId)))];
    const docs = await this.unavailable('read the lists', () => this.lists.find({ _id: { $in: ids } }).toArray());
    return new Map(docs.map((d) => [d._id, { listId: d.listId, campaignId: d.campaignId, name: d.name }]));
  }

  async moveLeads(moves: PlannedMove[], between?: () => Promise<void>): Promise<number> {
    const updatedAt = new Date();
    const writes = moves.map((m) => ({
      updateOne: {
        filter: { _id: leadKey(m.tenantId, m.leadId), listId: m.fromListId, appliedCommandIds: { $nin: m.commandIds } },
        update: { $set: { listId: m.toListId, updatedAt }, $push: { appliedCommandIds: { $each: m.commandIds, $slice: -APPLIED_COMMANDS_KEPT } } },
      },
    }));
    return (await this.unavailable('move the leads', () => bulkWriteInChunks(this.leads, writes, { ordered: true }, between))).modifiedCount;
  }

  async moveLead(tenantId: string, leadId: string, fromListId: string, toListId: string, commandId: string): Promise<MoveResult> {
    const result = await this.unavailable('move the lead', () =>
      this.leads.updateOne(
        { _id: leadKey(tenantId, leadId), listId: fromListId, appliedCommandIds: { $ne: commandId } },
        { $set: { listId: toListId, updatedAt: new Date() }, $push: { appliedCommandIds: { $each: [commandId], $slice: -APPLIED_COMMANDS_KEPT } } },
      ),
    );
    if (result.modifiedCount === 1) return 'moved';
    return (await this.getLead(tenantId, leadId)) ? 'conflict' : 'not_found';
  }

  async close(): Promise<void> {}
}
