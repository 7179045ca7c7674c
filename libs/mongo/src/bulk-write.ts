import type { AnyBulkWriteOperation, BulkWriteOptions, Collection, Document } from 'mongodb';

/**
 * Statements per write command. FerretDB 1.24 (SQLite) keeps the read of each update that matched
 * open until its whole command ends: one command updating ~50 existing documents takes every
 * connection of its database's pool and stalls that database for good (a re-import of 200 leads
 * never returned). MongoDB does not mind the extra round trips.
 */
export const STATEMENTS_PER_WRITE = 20;

/**
 * A bulk write sent as commands of {@link STATEMENTS_PER_WRITE} statements, one after the other
 * (an error stops it, as an ordered write does); `between` runs after each (a consumer's heartbeat).
 */
export async function bulkWriteInChunks<T extends Document>(
  collection: Collection<T>,
  operations: AnyBulkWriteOperation<T>[],
  options: BulkWriteOptions,
  between?: () => Promise<void>,
): Promise<{ matchedCount: number; modifiedCount: number; upsertedCount: number }> {
  const total = { matchedCount: 0, modifiedCount: 0, upsertedCount: 0 };
  for (let i = 0; i < operations.length; i += STATEMENTS_PER_WRITE) {
    const r = await collection.bulkWrite(operations.slice(i, i + STATEMENTS_PER_WRITE), options);
    total.matchedCount += r.matchedCount;
    total.modifiedCount += r.modifiedCount;
    total.upsertedCount += r.upsertedCount;
    await between?.();
  }
  return total;
}
