import { createHash } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { Collection, Filter, MongoServerError } from 'mongodb';
import type { Caller } from '@triggers/access';
import type { MongoHandle } from '@triggers/mongo';
import { MONGO } from '@triggers/runtime';
import type { Action, Condition, Trigger } from '@triggers/rules';
import { notFound } from '../http/api-errors';

/** A webhook signing secret as stored. */
export interface StoredSecret {
  id: string;
  secret: string;
  createdAt: Date;
  notAfter: Date | null;
}

/**
 * A trigger as stored. `dirty` and `publishedVersion` are the outbox: every write sets dirty,
 * and it is cleared only once that version (and `revision`, the hash of its content) is on the
 * config topic.
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
  /** Hash of the content of this version: what the config topic's record of it carries. */
  revision: string;
}

/**
 * The claim of one version of a trigger: `<triggerId>@<version>`, holding what that version
 * sets. Inserting it is how a writer wins that version: an insert with a taken `_id` fails on
 * MongoDB and FerretDB alike (tested: 20 concurrent inserts, one winner, 20 rounds of 20), while
 * a filtered update is not atomic on FerretDB v1.24 (2 to 10 of 20 concurrent
 * `findOneAndUpdate({version})` succeeded). Claims are kept until the trigger is purged.
 */
interface RevisionDocument {
  _id: string;
  triggerId: string;
  version: number;
  revision: string;
  set: Partial<TriggerDocument>;
}

/** The fields a create or an update sets. */
export type TriggerContent = Pick<TriggerDocument, 'name' | 'eventType' | 'enabled' | 'conditions' | 'actions' | 'parametersText' | 'webhookSecrets'>;

/** What a conditional write found. */
export type WriteOutcome = { ok: true; doc: TriggerDocument } | { ok: false; reason: 'not-found' } | { ok: false; reason: 'conflict'; current: number };

/** The hash of what a version sets, as the config topic's record of it carries it. */
export function revisionOf(content: Partial<TriggerDocument>): string {
  const { tenantId, name, eventType, enabled, conditions, actions, webhookSecrets, deleted } = content;
  const secrets = webhookSecrets?.map((s) => [s.id, s.notAfter?.getTime() ?? null]);
  return createHash('sha256')
    .update(JSON.stringify([tenantId, name, eventType, enabled, conditions, actions, secrets, deleted ?? false]))
    .digest('hex')
    .slice(0, 24);
}

const isDuplicateKey = (err: unknown) => err instanceof MongoServerError && err.code === 11000;

/**
 * Triggers in MongoDB, every query scoped by tenant. Versions are won by claims (see
 * {@link RevisionDocument}): exactly one writer gets each version, on MongoDB and FerretDB alike.
 * The trigger document is the latest claim applied; a claim not applied yet (its writer crashed,
 * or a stale write overwrote it on FerretDB) is applied by whoever reads the trigger next.
 */
@Injectable()
export class TriggerRepository implements OnModuleInit {
  readonly collection: Collection<TriggerDocument>;
  private readonly revisions: Collection<RevisionDocument>;

  constructor(@Inject(MONGO) mongo: MongoHandle) {
    this.collection = mongo.db.collection<TriggerDocument>('triggers');
    this.revisions = mongo.db.collection<RevisionDocument>('trigger_revisions');
  }

  async onModuleInit(): Promise<void> {
    await this.collection.createIndex({ tenantId: 1, _id: 1 }).catch(() => undefined);
    await this.collection.createIndex({ dirty: 1 }).catch(() => undefined);
    await this.revisions.createIndex({ triggerId: 1 }).catch(() => undefined);
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
      revision: revisionOf({ tenantId, ...content }),
    };
    await this.collection.insertOne(doc);
    return doc;
  }

  /** A live trigger of the caller's tenant; 404 otherwise (also for another tenant's trigger). */
  async get(caller: Caller, id: string): Promise<TriggerDocument> {
    const doc = await this.find(caller.tenantId, id);
    if (!doc) throw notFound('trigger');
    return doc;
  }

  /** A live trigger of the tenant, or null (also for another tenant's trigger). */
  async find(tenantId: string, id: string): Promise<TriggerDocument | null> {
    const doc = await this.findAnyById(id);
    return doc && doc.tenantId === tenantId && !doc.deleted ? doc : null;
  }

  /** The document whatever its state (every claimed version applied), for the publisher. */
  async findAnyById(id: string): Promise<TriggerDocument | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc && this.settle(doc);
  }

  /** Applies the claims past the document's version, in order; returns the document at the latest. */
  private async settle(doc: TriggerDocument): Promise<TriggerDocument> {
    for (;;) {
      const next = await this.revisions.findOne({ _id: `${doc._id}@${doc.version + 1}` });
      if (!next) return doc;
      const applied = { ...next.set, version: next.version, revision: next.revision, dirty: true };
      await this.collection.updateOne({ _id: doc._id, version: doc.version }, { $set: applied });
      doc = { ...doc, ...applied };
    }
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
   * Applies `set` to a live trigger as its next version, when its version is `expectedVersion`
   * (any version when undefined: it then gets the next free one). Exactly one writer wins each
   * version; the others learn the version that beat them (a conflict), and no two writers are
   * ever told they wrote the same version.
   */
  async update(
    tenantId: string,
    id: string,
    expectedVersion: number | undefined,
    set: Partial<TriggerDocument> | ((current: TriggerDocument) => Partial<TriggerDocument>),
  ): Promise<WriteOutcome> {
    for (;;) {
      const current = await this.find(tenantId, id);
      if (!current) return { ok: false, reason: 'not-found' };
      if (expectedVersion !== undefined && current.version !== expectedVersion) return { ok: false, reason: 'conflict', current: current.version };
      const version = current.version + 1;
      // A change computed from what it changes (a PATCH merges into the current version) is computed again on each try.
      const content: Partial<TriggerDocument> = { ...(typeof set === 'function' ? set(current) : set), updatedAt: new Date() };
      const revision = revisionOf({ ...current, ...content });
      try {
        await this.revisions.insertOne({ _id: `${id}@${version}`, triggerId: id, version, revision, set: content });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Another writer won this version: a conflict for a conditional write, the next one for the rest.
        if (expectedVersion !== undefined) return { ok: false, reason: 'conflict', current: version };
        continue;
      }
      const applied = { ...content, version, revision, dirty: true };
      await this.collection.updateOne({ _id: id, version: current.version }, { $set: applied });
      return { ok: true, doc: { ...current, ...applied } };
    }
  }

  /**
   * Records that `version` with `revision` is on the config topic; false when the document has
   * moved on (a stale publish can never mark a newer version, or other content, published).
   */
  async markPublished(id: string, version: number, revision: string): Promise<boolean> {
    const r = await this.collection.updateOne({ _id: id, version, revision }, { $set: { dirty: false, publishedVersion: version } });
    // On FerretDB a concurrent write may have been overwritten by this one: claims past it are applied again.
    const doc = await this.findAnyById(id);
    return r.matchedCount === 1 && doc?.version === version;
  }

  /** Marks a trigger for publishing again (the reconciler found the topic saying otherwise). */
  async markDirty(id: string): Promise<void> {
    await this.collection.updateOne({ _id: id }, { $set: { dirty: true } });
  }

  /** Removes a deleted trigger, and its claims, once its tombstone is published. */
  async purge(id: string, version: number): Promise<void> {
    const r = await this.collection.deleteOne({ _id: id, version, deleted: true });
    if (r.deletedCount === 1) await this.revisions.deleteMany({ triggerId: id });
  }

  /** Every stored trigger's id, tenant, version and revision, for the reconciler. */
  async all(): Promise<Pick<TriggerDocument, '_id' | 'tenantId' | 'version' | 'revision' | 'deleted' | 'dirty'>[]> {
    return this.collection.find({}, { projection: { _id: 1, tenantId: 1, version: 1, revision: 1, deleted: 1, dirty: 1 } }).toArray();
  }

  /** Ids of triggers with changes not yet on the config topic. */
  async dirtyIds(limit = 500): Promise<string[]> {
    const docs = await this.collection
      .find({ dirty: true }, { projection: { _id: 1 } })
      .limit(limit)
      .toArray();
    return docs.map((d) => d._id);
  }
}
