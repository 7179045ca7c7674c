import type { Collection, Db } from 'mongodb';
import type { LogRecord } from '@triggers/contracts';
import { HOUR } from './trigger-stats.document';

/**
 * One log record as stored in the `event_logs` collection: the log topic's record with its
 * deterministic `logId` as `_id` (so writing it twice changes nothing) and times as dates (so a
 * TTL index can expire them). The log-sink writes these; the API's Event Logs view reads them.
 */
export interface EventLogDocument extends Omit<LogRecord, 'logId' | 'time' | 'nextDueAt'> {
  _id: string;
  time: Date;
  nextDueAt: Date | null;
  /**
   * `time` cut to the hour: delivery stats group by it, since not every MongoDB-protocol server
   * computes dates in a pipeline (FerretDB groups by fields only). Absent on older documents.
   */
  hour?: Date;
  /**
   * Where the log-sink read the record on the log topic: the stats count a stored record once,
   * and a record met again at its own offset (a batch written again after a crash) still counts
   * while one met at another (the same fact logged twice) does not. Absent on documents stored
   * by older versions and by tools.
   */
  source?: RecordSource;
}

/** A record's place on the log topic. */
export interface RecordSource {
  partition: number;
  offset: number;
}

/** The name of the collection. */
export const EVENT_LOGS_COLLECTION = 'event_logs';

/** A log record as the document the collection holds. */
export function toEventLogDocument(record: LogRecord, source?: RecordSource): EventLogDocument {
  const { logId, time, nextDueAt, ...rest } = record;
  return {
    _id: logId,
    ...rest,
    time: new Date(time),
    hour: new Date(time - (time % HOUR)),
    nextDueAt: nextDueAt === null ? null : new Date(nextDueAt),
    ...(source && { source }),
  };
}

/** The collection, typed. */
export function eventLogsCollection(db: Db): Collection<EventLogDocument> {
  return db.collection<EventLogDocument>(EVENT_LOGS_COLLECTION);
}

/**
 * The indexes the Event Logs view's queries use (idempotent): a trigger's rows by time (also
 * the delivery stats'), an event's rows, a command's rows, a trigger's rows of one status by time
 * (also bulk redelivery's), a trigger's attempts by when they are due again (the stats' waiting
 * retries). README.md, "The store", lists each query with its index.
 * The log-sink adds the retention's TTL index.
 */
export async function ensureEventLogIndexes(logs: Collection<EventLogDocument>): Promise<void> {
  // `_id` last: the page's order (time, then _id, newest first) is the index's, so MongoDB reads
  // one page of it rather than sorting every row of the trigger (the index it replaces).
  await logs.createIndex({ tenantId: 1, triggerId: 1, time: -1, _id: -1 });
  await logs.dropIndex('tenantId_1_triggerId_1_time_-1').catch(() => undefined);
  await logs.createIndex({ tenantId: 1, commandId: 1 });
  await logs.createIndex({ tenantId: 1, eventId: 1 });
  // A trigger's rows of one status by time: the page's status filter and bulk redelivery's
  // selection (the index it replaces, by tenant and status, served no query).
  await logs.createIndex({ tenantId: 1, triggerId: 1, status: 1, time: -1, _id: -1 });
  await logs.dropIndex('tenantId_1_status_1_time_-1').catch(() => undefined);
  await logs.createIndex({ tenantId: 1, triggerId: 1, nextDueAt: 1 });
}
