import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { Collection, Filter } from 'mongodb';
import type { MongoHandle } from '@triggers/mongo';
import { MONGO } from '@triggers/runtime';
import type { Action, Condition, Trigger } from '@triggers/rules';

/** A webhook signing secret as stored. */
export interface StoredSecret {
  id: string;
  secret: string;
  createdAt: Date;
  notAfter: Date | null;
}

/**
 * A trigger as stored. `dirty` and `publishedVersion` are the outbox: every write sets dirty in
 * the same single-document update, and it is cleared only once that version is on the config
 * topic. Single-document writes are atomic on MongoDB and FerretDB alike, so no multi-document
 * transaction is needed for MongoDB and the topic never to diverge.
 */
export interface TriggerDocument {
  _id: string;
  tenantId: string;
  name: string;
  eventType: Trigger['eventType'];
  enabled: boolean;
  conditions: Condition[];
  actions: Action[];
  parametersText: string;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  deleted: boolean;
  dirty: boolean;
  publishedVersion: number | null;
  webhookSecrets: StoredSecret[];
}

/** The fields a create or an update sets. */
export type TriggerContent = Pick<
  TriggerDocument,
  'name' | 'eventType' | 'enabled' | 'conditions' | 'actions' | 'parametersText' | 'webhookSecrets'
>;

/** What a conditional write found. */
export type WriteOutcome = { ok: true; doc: TriggerDocument } | { ok: false; reason: 'not-found' } | { ok: false; reason: 'conflict'; current: number };

/** Triggers in MongoDB, every query scoped by tenant. */
@Injectable()
export class TriggerRepository implements OnModuleInit {
  readonly collection: Collection<TriggerDocument>;

  constructor(@Inject(MONGO) mongo: MongoHandle) {
    this.collection = mongo.db.collection<TriggerDocument>('triggers');
  }

  async onModuleInit(): Promise<void> {
    await this.collection.createIndex({ tenantId: 1, _id: 1 }).catch(() => undefined);
    await this.collection.createIndex({ dirty: 1 }).catch(() => undefined);
  }

  async insert(tenantId: string, id: string, content: TriggerContent): Promise<TriggerDocument> {
    const now = new Date();
    const doc: TriggerDocument = {
      _id: id,
      tenantId,
      ...content,
      version: 1,
      createdAt: now,
      updatedAt: now,
      deleted: false,
      dirty: true,
      publishedVersion: null,
    };
    await this.collection.insertOne(doc);
    return doc;
  }

  /** A live trigger of the tenant, or null (also for another tenant's trigger). */
  find(tenantId: string, id: string): Promise<TriggerDocument | null> {
    return this.collection.findOne({ _id: id, tenantId, deleted: false });
  }

  /** The document whatever its state, for the publisher. */
  findAnyById(id: string): Promise<TriggerDocument | null> {
    return this.collection.findOne({ _id: id });
  }

  /** A page of the tenant's live triggers in id order (ids grow with time). */
  list(tenantId: string, q: { eventType?: string; enabled?: boolean; limit: number; after?: string }): Promise<TriggerDocument[]> {
    const filter: Filter<TriggerDocument> = { tenantId, deleted: false };
    if (q.eventType) filter.eventType = q.eventType as TriggerDocument['eventType'];
    if (q.enabled !== undefined) filter.enabled = q.enabled;
    if (q.after) filter._id = { $gt: q.after };
    return this.collection.find(filter).sort({ _id: 1 }).limit(q.limit).toArray();
  }

  /**
   * Applies `set` to a live trigger when its version is `expectedVersion` (any version when
   * undefined), bumping the version and marking it for publishing, in one atomic update.
   */
  async update(tenantId: string, id: string, expectedVersion: number | undefined, set: Partial<TriggerDocument>): Promise<WriteOutcome> {
    const filter: Filter<TriggerDocument> = { _id: id, tenantId, deleted: false };
    if (expectedVersion !== undefined) filter.version = expectedVersion;
    const doc = await this.collection.findOneAndUpdate(
      filter,
      { $set: { ...set, updatedAt: new Date(), dirty: true }, $inc: { version: 1 } },
      { returnDocument: 'after' },
    );
    if (doc) return { ok: true, doc };
    const current = await this.find(tenantId, id);
    return current ? { ok: false, reason: 'conflict', current: current.version } : { ok: false, reason: 'not-found' };
  }

  /** Records that `version` is on the config topic; false when the document has moved on. */
  async markPublished(id: string, version: number): Promise<boolean> {
    const r = await this.collection.updateOne({ _id: id, version }, { $set: { dirty: false, publishedVersion: version } });
    return r.matchedCount === 1;
  }

  /** Removes a deleted trigger once its tombstone is published. */
  async purge(id: string, version: number): Promise<void> {
    await this.collection.deleteOne({ _id: id, version, deleted: true });
  }

  /** Ids of triggers with changes not yet on the config topic. */
  async dirtyIds(limit = 500): Promise<string[]> {
    const docs = await this.collection.find({ dirty: true }, { projection: { _id: 1 } }).limit(limit).toArray();
    return docs.map((d) => d._id);
  }
}
