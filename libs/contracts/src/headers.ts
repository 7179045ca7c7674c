/**
 * Kafka header names the apps write and read, one spelling each. Headers carry what a consumer
 * needs before (or without) decoding a value.
 */
export const HEADERS = {
  /** The event id a message follows from, on every message downstream of an event. */
  correlationId: 'correlation-id',
  /** A webhook retry's due time (epoch ms), read without decoding the message. */
  dueAt: 'due-at',
  /** The step, log id and origin of a log record, read without decoding it. */
  logStep: 'log-step',
  logId: 'log-id',
  logOrigin: 'log-origin',
  /** The version and revision of a trigger config record. */
  version: 'version',
  revision: 'revision',
  /** The event type of a produced event (tools). */
  eventType: 'event-type',
  /** W3C trace context, carried from an event to everything that follows from it. */
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;

/**
 * Headers a dead letter carries beside the original message's own: why it could not be handled,
 * where it was read, when; a value cut to fit is marked truncated with its original size.
 */
export const DEAD_LETTER_HEADERS = {
  reason: 'dlq-reason',
  errorClass: 'dlq-error-class',
  sourceTopic: 'dlq-source-topic',
  sourcePartition: 'dlq-source-partition',
  sourceOffset: 'dlq-source-offset',
  at: 'dlq-at',
  truncated: 'dlq-truncated',
  originalSize: 'dlq-original-size',
  /** On a message sent back by `dlq replay`: the dead letter it came from (`<topic>:<partition>:<offset>`). */
  replayedFrom: 'dlq-replayed-from',
} as const;

/** The due time a message's `due-at` header names (epoch ms), or null when it has none readable. */
export function dueAtOf(headers: Record<string, unknown> | undefined): number | null {
  const raw = headers?.[HEADERS.dueAt];
  const due = raw === undefined || raw === null ? NaN : Number(String(raw));
  return Number.isFinite(due) ? due : null;
}
