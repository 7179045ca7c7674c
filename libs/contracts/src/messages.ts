import { EventType } from './event-types';

/** An event as platform services publish it (schemas/events/*-event.avsc). */
export interface EventEnvelope<P = Record<string, unknown>> {
  tenantId: string;
  eventId: string;
  type: EventType;
  payload: P;
}

/** A trigger on the compacted config topic (schemas/config/trigger-config.avsc). */
export interface TriggerConfigRecord {
  tenantId: string;
  triggerId: string;
  version: number;
  name: string;
  eventType: string;
  enabled: boolean;
  conditions: { reference: string; operator: string; value: string }[];
  actions: { action: string; parameters: Record<string, string> }[];
  updatedAt: number;
  webhookSecrets: { id: string; secret: string; notAfter: number | null }[];
}

/** A webhook delivery to make (schemas/commands/webhook-command.avsc). */
export interface WebhookCommand {
  commandId: string;
  tenantId: string;
  triggerId: string;
  eventId: string;
  eventType: string;
  actionIndex: number;
  url: string;
  body: string;
  attempt: number;
  firstAttemptAt: number;
  dueAt: number | null;
  origin: 'event' | 'test' | 'manual' | 'bulk' | 'notification';
  /** The trigger's retry window in minutes; null or absent: the dispatcher's own (48 hours by default). */
  retryWindowMinutes?: number | null;
}

/** A lead move to apply (schemas/commands/lead-command.avsc). */
export interface LeadCommand {
  commandId: string;
  tenantId: string;
  triggerId: string;
  eventId: string;
  eventType: string;
  leadId: string;
  campaignId: string | null;
  toListId: string;
}

/** One webhook request and response (schemas/log/http-exchange.avsc). */
export interface HttpExchange {
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  requestBody: string;
  responseStatus: number | null;
  responseHeaders: Record<string, string>;
  responseBody: string | null;
  responseTruncated: boolean;
  durationMs: number | null;
  errorClass: string | null;
}

/** The response half of an {@link HttpExchange}: what the webhook client answers for one POST. */
export type HttpResponse = Pick<HttpExchange, 'responseStatus' | 'responseHeaders' | 'responseBody' | 'responseTruncated' | 'errorClass'> & {
  durationMs: number;
};

/** One logged step (schemas/log/log-record.avsc). */
export interface LogRecord {
  logId: string;
  tenantId: string;
  triggerId: string | null;
  eventId: string | null;
  eventType: string | null;
  commandId: string | null;
  step: string;
  status: 'ok' | 'failed' | 'info';
  time: number;
  attempt: number | null;
  origin: string;
  message: string | null;
  http: HttpExchange | null;
  nextDueAt: number | null;
  traceId: string | null;
}
