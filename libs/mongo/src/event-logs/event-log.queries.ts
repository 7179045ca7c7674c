import type { Collection, Filter, FindCursor } from 'mongodb';
import type { EventLogDocument } from './event-log.document';

/** Where a page of a trigger's rows starts: after the last row of the page before (newest first). */
export interface PagePosition {
  time: Date;
  id: string;
}

/**
 * One page of a trigger's rows, newest first (the Event Logs view), `limit` rows at most, after
 * `after` when given. Served by `{tenantId, triggerId, time: -1}` (ties on `time` come back by
 * `_id` descending): the bounds on `time`, the page's position included, are on the field itself,
 * so the index's scan starts at the page (MongoDB's bounds, and the embedded store's pushdown,
 * read only top-level conditions); `$or` only settles the ties at the position.
 */
export function triggerLogsPage(
  logs: Collection<EventLogDocument>,
  tenantId: string,
  triggerId: string,
  q: { status?: EventLogDocument['status']; from?: Date; to?: Date; after?: PagePosition },
  limit: number,
): Promise<EventLogDocument[]> {
  const filter: Filter<EventLogDocument> = { tenantId, triggerId };
  if (q.status) filter.status = q.status;
  const upTo = q.after && (!q.to || q.after.time < q.to) ? q.after.time : q.to;
  if (q.from || upTo) filter.time = { ...(q.from && { $gte: q.from }), ...(upTo && { $lte: upTo }) };
  if (q.after) filter.$or = [{ time: { $lt: q.after.time } }, { time: q.after.time, _id: { $lt: q.after.id } }];
  return logs.find(filter).sort({ time: -1, _id: -1 }).limit(limit).toArray();
}

/**
 * The failed records of a trigger's steps in `[from, to]`, with their command and time (bulk
 * redelivery's selection, streamed). Served by `{tenantId, triggerId, time: -1}`.
 */
export function failedRecordsIn(
  logs: Collection<EventLogDocument>,
  q: { tenantId: string; triggerId: string; from: Date; to: Date; steps: string[] },
): FindCursor<Pick<EventLogDocument, '_id' | 'commandId' | 'time'>> {
  return logs.find(
    { tenantId: q.tenantId, triggerId: q.triggerId, time: { $gte: q.from, $lte: q.to }, step: { $in: q.steps }, status: 'failed' },
    { projection: { _id: 1, commandId: 1, time: 1 } },
  );
}
