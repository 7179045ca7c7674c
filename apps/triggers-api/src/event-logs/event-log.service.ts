import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { Collection } from 'mongodb';
import type { Caller } from '@triggers/access';
import { EventLogDocument, MongoHandle, PagePosition, ensureEventLogIndexes, eventLogsCollection, triggerLogsPage } from '@triggers/mongo';
import { MONGO } from '@triggers/runtime';
import { ApiError, notFound } from '../http/api-errors';

const SENSITIVE_HEADER = /authorization|cookie|secret|token|api-key|signature/i;

/** Replaces the values of headers that carry credentials. */
export function redactHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, SENSITIVE_HEADER.test(k) ? '[redacted]' : v]));
}

/** One row of the Event Logs tab. */
export interface EventLogRow {
  logId: string;
  time: string;
  step: string;
  status: string;
  attempt: number | null;
  origin: string;
  message: string | null;
  eventId: string | null;
  commandId: string | null;
  responseStatus: number | null;
  durationMs: number | null;
  errorClass: string | null;
  nextDueAt: string | null;
  /** The W3C trace id of the event this step follows from (find its spans in the tracing backend). */
  traceId: string | null;
}

const encodeCursor = (d: EventLogDocument) => Buffer.from(`${d.time.getTime()}|${d._id}`).toString('base64url');
function decodeCursor(cursor: string): PagePosition {
  const [t, ...rest] = Buffer.from(cursor, 'base64url').toString().split('|');
  const time = Number(t);
  if (!Number.isFinite(time) || rest.length === 0)
    throw new ApiError(400, 'invalid cursor', [{ path: 'cursor', message: 'pass the nextCursor of a previous page' }]);
  return { time: new Date(time), id: rest.join('|') };
}

/** The Event Logs view: a trigger's rows, one entry in full. */
@Injectable()
export class EventLogService implements OnModuleInit {
  private readonly logs: Collection<EventLogDocument>;

  constructor(@Inject(MONGO) mongo: MongoHandle) {
    this.logs = eventLogsCollection(mongo.db);
  }

  async onModuleInit(): Promise<void> {
    await ensureEventLogIndexes(this.logs).catch(() => undefined);
  }

  /** A trigger's log rows, newest first. */
  async list(
    caller: Caller,
    triggerId: string,
    q: { status?: string; from?: Date; to?: Date; limit: number; cursor?: string },
  ): Promise<{ items: EventLogRow[]; nextCursor: string | null }> {
    const docs = await triggerLogsPage(
      this.logs,
      caller.tenantId,
      triggerId,
      { status: q.status as EventLogDocument['status'] | undefined, from: q.from, to: q.to, after: q.cursor ? decodeCursor(q.cursor) : undefined },
      q.limit + 1,
    );
    const page = docs.slice(0, q.limit);
    return {
      items: page.map((d) => ({
        logId: d._id,
        time: d.time.toISOString(),
        step: d.step,
        status: d.status,
        attempt: d.attempt,
        origin: d.origin,
        message: d.message,
        eventId: d.eventId,
        commandId: d.commandId,
        responseStatus: d.http?.responseStatus ?? null,
        durationMs: d.http?.durationMs ?? null,
        errorClass: d.http?.errorClass ?? null,
        nextDueAt: d.nextDueAt ? d.nextDueAt.toISOString() : null,
        traceId: d.traceId ?? null,
      })),
      nextCursor: docs.length > q.limit ? encodeCursor(page[page.length - 1]) : null,
    };
  }

  /** One of the caller's own records (404 for another tenant's). */
  async find(caller: Caller, logId: string): Promise<EventLogDocument> {
    const doc = await this.logs.findOne({ _id: logId, tenantId: caller.tenantId });
    if (!doc) throw notFound('event log');
    return doc;
  }

  /** The whole record, with credentials in headers redacted. */
  async get(caller: Caller, logId: string) {
    // `hour` and `source` are the store's, not the record's.
    const { _id, time, nextDueAt, http, hour: _hour, source: _source, ...rest } = await this.find(caller, logId);
    return {
      logId: _id,
      ...rest,
      time: time.toISOString(),
      nextDueAt: nextDueAt ? nextDueAt.toISOString() : null,
      http: http ? { ...http, requestHeaders: redactHeaders(http.requestHeaders), responseHeaders: redactHeaders(http.responseHeaders) } : null,
    };
  }
}
