import { randomUUID } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { Collection } from 'mongodb';
import type { Caller } from '@triggers/access';
import type { ApiConfig } from '@triggers/config';
import { EventType, WebhookCommand, newWebhookCommand, sampleEvent, webhookBody } from '@triggers/contracts';
import { EventLogDocument, MongoHandle, PagePosition, ensureEventLogIndexes, eventLogsCollection, triggerLogsPage } from '@triggers/mongo';
import { APP_CONFIG, MONGO } from '@triggers/runtime';
import { ApiError, notFound } from './api-errors';
import { CommandProducer } from './command-producer.service';
import { WebhookUrls } from './webhook-urls';
import { TriggerDocument } from './trigger.repository';

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

/**
 * The command that sends a logged attempt's webhook again, now: the same command id (receivers
 * see the same `webhook-id`), URL and body, a new delivery window. Null for a record with no request.
 */
export function redeliveryOf(doc: EventLogDocument, origin: WebhookCommand['origin'], now: number): WebhookCommand | null {
  if (!doc.http || !doc.commandId || !doc.triggerId || !doc.eventId) return null;
  return newWebhookCommand({
    commandId: doc.commandId,
    tenantId: doc.tenantId,
    triggerId: doc.triggerId,
    eventId: doc.eventId,
    eventType: doc.eventType ?? 'unknown',
    actionIndex: 0,
    url: doc.http.url,
    body: doc.http.requestBody,
    origin,
    now,
  });
}

/** The Event Logs view, redeliveries and test sends. */
@Injectable()
export class EventLogService implements OnModuleInit {
  private readonly logs: Collection<EventLogDocument>;

  constructor(
    @Inject(MONGO) mongo: MongoHandle,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    private readonly commands: CommandProducer,
    private readonly urls: WebhookUrls,
  ) {
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

  private async find(caller: Caller, logId: string): Promise<EventLogDocument> {
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

  /**
   * Sends the webhook of a logged attempt again, now, as a new command marked manual. It keeps
   * the command id, so the receiver sees the same `webhook-id` and can tell it is the same event.
   */
  async redeliver(caller: Caller, logId: string): Promise<{ commandId: string; url: string }> {
    const doc = await this.find(caller, logId);
    const command = redeliveryOf(doc, 'manual', Date.now());
    if (!command) throw new ApiError(409, 'only a webhook delivery can be redelivered; this log entry has no request');
    await this.urls.check([{ path: 'http.url', url: command.url }]);
    await this.commands.send([command]);
    return { commandId: command.commandId, url: command.url };
  }

  /**
   * Sends the sample payload of the trigger's event type (or the one given) to each of its
   * webhooks through the real delivery path, marked as a test in the Event Logs.
   */
  async testSend(trigger: TriggerDocument, payload?: Record<string, unknown>): Promise<{ eventId: string; commands: { commandId: string; url: string }[] }> {
    const webhooks = trigger.actions.map((a, i) => ({ a, i })).filter(({ a }) => a.action === 'webhook');
    if (webhooks.length === 0) throw new ApiError(409, 'this trigger has no webhook action to test');
    await this.urls.check(webhooks.map(({ a, i }) => ({ path: `parameters.actions.${i}.parameters.url`, url: (a.parameters as { url: string }).url })));
    const eventId = `test-${randomUUID()}`;
    const body = webhookBody(trigger.eventType, payload ?? sampleEvent(trigger.eventType as EventType).payload);
    const now = Date.now();
    const commands = webhooks.map(({ a, i }) =>
      newWebhookCommand({
        tenantId: trigger.tenantId,
        triggerId: trigger._id,
        eventId,
        eventType: trigger.eventType,
        actionIndex: i,
        url: (a.parameters as { url: string }).url,
        body,
        origin: 'test',
        now,
      }),
    );
    await this.commands.send(commands);
    return { eventId, commands: commands.map((c) => ({ commandId: c.commandId, url: c.url })) };
  }
}
