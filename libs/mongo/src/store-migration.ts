import { createHash } from 'node:crypto';
import { BSON, type Db, type Document, type IndexDescription, type MongoClient } from 'mongodb';

/** The databases a server keeps for itself, never copied. */
const SYSTEM_DATABASES = new Set(['admin', 'config', 'local']);
/** Where a migration records itself in its target, so it refuses to run twice over it. */
export const MIGRATION_DATABASE = 'triggers_store_migration';
const BATCH = 1_000;

/** One collection as copied: its documents and their checksum, on each side. */
export interface CollectionCopy {
  database: string;
  collection: string;
  documents: number;
  indexes: number;
  checksum: string;
}

/** Why a migration refuses to run or fails its checks: nothing more is written (exit 1). */
export class MigrationError extends Error {}

/**
 * An order-free checksum of documents: the sum (mod 2^256) of each document's SHA-256 over its
 * canonical Extended JSON (field order and every BSON type kept), so two sides are compared
 * however each returns its documents, and one missing, extra or altered document changes it.
 */
class Checksum {
  private static readonly MODULUS = 1n << 256n;
  private sum = 0n;
  documents = 0;

  add(doc: Document): void {
    const hash = createHash('sha256')
      .update(BSON.EJSON.stringify(doc, { relaxed: false }))
      .digest('hex');
    this.sum = (this.sum + BigInt(`0x${hash}`)) % Checksum.MODULUS;
    this.documents += 1;
  }

  get value(): string {
    return this.sum.toString(16).padStart(64, '0');
  }
}

/** The checksum of a collection's documents, as read back. */
async function collectionChecksum(db: Db, collection: string): Promise<{ documents: number; checksum: string }> {
  const sum = new Checksum();
  for await (const doc of db.collection(collection).find({}, { batchSize: BATCH })) sum.add(doc);
  return { documents: sum.documents, checksum: sum.value };
}

/** The databases of a server holding data, system ones and a migration's record excepted. */
export async function dataDatabases(client: MongoClient): Promise<string[]> {
  const { databases } = await client.db('admin').admin().listDatabases({ nameOnly: true });
  return databases.map((d) => d.name).filter((name) => !SYSTEM_DATABASES.has(name) && name !== MIGRATION_DATABASE);
}

/**
 * Refuses a target that a migration already wrote, or that holds any document of a collection it
 * would copy: a migration never merges into, or overwrites, a store in use.
 */
export async function checkTarget(target: MongoClient, pairs: { source: Db; target: Db }[]): Promise<void> {
  const databases = pairs.map((p) => p.target.databaseName);
  const done = await target
    .db(MIGRATION_DATABASE)
    .collection('runs')
    .findOne({ targets: { $in: databases } });
  if (done) {
    throw new MigrationError(`the target was already migrated into (${(done.at as Date).toISOString()}, from ${String(done.source)}); it is left as it is`);
  }
  for (const { source, target: to } of pairs) {
    for (const { name } of await source.listCollections({}, { nameOnly: true }).toArray()) {
      if (await to.collection(name).findOne({})) {
        throw new MigrationError(`the target already holds documents in ${to.databaseName}.${name}; migrate into an empty store`);
      }
    }
  }
}

/** The indexes of a collection other than `_id`'s, as createIndexes takes them back. */
async function indexesOf(db: Db, collection: string): Promise<IndexDescription[]> {
  const indexes = (await db.collection(collection).indexes()) as Document[];
  return indexes
    .filter((index) => index.name !== '_id_')
    .map((index) => ({
      key: index.key,
      name: index.name,
      ...(index.unique && { unique: true }),
      ...(index.expireAfterSeconds !== undefined && { expireAfterSeconds: index.expireAfterSeconds }),
    }));
}

/**
 * Copies one database's collections (documents and indexes) from `source` to `target`, then
 * checks each side's count and checksum. `say` gets a line per collection as it goes.
 */
export async function copyDatabase(source: Db, target: Db, say: (line: string) => void): Promise<CollectionCopy[]> {
  const copies: CollectionCopy[] = [];
  const collections = (await source.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  for (const name of collections) {
    const indexes = await indexesOf(source, name);
    // The indexes first: each document is then keyed as it lands (the target builds its own kind).
    await target.createCollection(name).catch(() => undefined);
    if (indexes.length > 0) await target.collection(name).createIndexes(indexes);
    const total = await source.collection(name).estimatedDocumentCount();
    let copied = 0;
    let batch: Document[] = [];
    let lastSaid = Date.now();
    const flush = async () => {
      if (batch.length === 0) return;
      await target.collection(name).insertMany(batch, { ordered: true });
      copied += batch.length;
      batch = [];
      if (Date.now() - lastSaid > 2_000) {
        say(`  ${source.databaseName}.${name}: ${copied.toLocaleString('en')} of about ${total.toLocaleString('en')} documents`);
        lastSaid = Date.now();
      }
    };
    // The source's checksum is taken of what is copied, as it is read; the target's is read back.
    const sourceSum = new Checksum();
    for await (const doc of source.collection(name).find({}, { batchSize: BATCH })) {
      sourceSum.add(doc);
      batch.push(doc);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    const from = { documents: sourceSum.documents, checksum: sourceSum.value };
    const to = await collectionChecksum(target, name);
    if (from.documents !== to.documents || from.checksum !== to.checksum) {
      throw new MigrationError(
        `${source.databaseName}.${name} differs after the copy: ${from.documents} documents (checksum ${from.checksum.slice(0, 16)}…) in the source, ` +
          `${to.documents} (${to.checksum.slice(0, 16)}…) in the target; the source is untouched`,
      );
    }
    say(
      `  ${source.databaseName}.${name}: ${to.documents.toLocaleString('en')} documents, ${indexes.length} indexes, checksum ${to.checksum.slice(0, 16)}… on both sides`,
    );
    copies.push({ database: source.databaseName, collection: name, documents: to.documents, indexes: indexes.length, checksum: to.checksum });
  }
  return copies;
}

/** Records a finished migration in its target (what `checkTarget` refuses a second time). */
export async function recordMigration(target: MongoClient, source: string, targets: string[], copies: CollectionCopy[]): Promise<void> {
  await target.db(MIGRATION_DATABASE).collection('runs').insertOne({ at: new Date(), source, targets, collections: copies });
}
