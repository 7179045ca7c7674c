import type { LogRecord } from '@triggers/contracts';

/**
 * One log record as stored in the `event_logs` collection: the log topic's record with its
 * deterministic `logId` as `_id` (so writing it twice changes nothing) and times as dates (so a
 * TTL index can expire them). The log-sink writes these; the API's Event Logs view reads them.
 */
export interface EventLogDocument extends Omit<LogRecord, 'logId' | 'time' | 'nextDueAt'> {
  _id: string;
  time: Date;
  nextDueAt: Date | null;
}

/** The name of the collection. */
export const EVENT_LOGS_COLLECTION = 'event_logs';

/** A log record as the document the collection holds. */
export function toEventLogDocument(record: LogRecord): EventLogDocument {
  const { logId, time, nextDueAt, ...rest } = record;
  return { _id: logId, ...rest, time: new Date(time), nextDueAt: nextDueAt === null ? null : new Date(nextDueAt) };
}
