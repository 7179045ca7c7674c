import type { KafkaMessage, Message } from 'kafkajs';
import { HEADERS, HttpExchange, WebhookCommand, logIdFor, newLogRecord, triggerKey } from '@triggers/contracts';
import { BatchOutput, MessageSource, deadLetter } from '@triggers/kafka';
import type { TopicNames } from '@triggers/contracts';
import { traceContextOf } from '@triggers/tracing';
import type { Decision } from './delivery-decision';

type Encoder = (value: unknown) => Buffer;

/** Steps that end a command's delivery window: one record per command and window, not per attempt. */
const FINAL_STEPS = new Set(['webhook.delivered', 'webhook.gave_up', 'webhook.blocked']);

/**
 * The log id of a step of a command's delivery. A manual redelivery keeps the command id; its
 * origin and first attempt keep its records apart. Attempts have one record each; the final
 * outcome (delivered, gave up, blocked) one per command and window, whichever attempt reached it.
 */
export function deliveryLogId(command: WebhookCommand, step: string): string {
  return FINAL_STEPS.has(step)
    ? logIdFor(command.commandId, command.origin, command.firstAttemptAt, step)
    : logIdFor(command.commandId, command.origin, command.firstAttemptAt, command.attempt, step);
}

/** The W3C trace context headers of a message as read. */
function pickTraceHeaders(m: KafkaMessage): Record<string, Buffer | string> {
  const out: Record<string, Buffer | string> = {};
  for (const name of [HEADERS.traceparent, HEADERS.tracestate]) {
    const v = m.headers?.[name];
    if (v !== undefined && !Array.isArray(v)) out[name] = v;
  }
  return out;
}

/** What an outcome is written with besides its decision. */
export interface AttemptContext {
  command: WebhookCommand;
  /** The command's message as read, and where from (a command given up goes to the dead-letter topic as read). */
  read: KafkaMessage;
  source: MessageSource;
  /** The exchange, when a request was made or refused. */
  http: HttpExchange | null;
  traceId: string | null;
  /** The attempt's own trace context, for a retry of a command that came without one. */
  spanHeaders: () => Record<string, string>;
  /** When the attempt ended: the log record's time. */
  at: number;
}

/**
 * Writes what a {@link Decision} says, and nothing it does not: the log record, the retry on the
 * retry tier, the dead letter. They go into the consumer's transaction with the command's offset,
 * so they are written exactly once whatever crashes (see WindowedConsumer).
 */
export class OutcomeWriter {
  constructor(
    private readonly topics: Pick<TopicNames, 'log' | 'webhookRetry' | 'deadLetterWebhook'>,
    private readonly encoders: { log: Encoder; retry: Encoder },
  ) {}

  write(out: BatchOutput, decision: Decision, a: AttemptContext): void {
    const { command, read } = a;
    out.push(this.topics.log, this.logMessage(decision, a));
    if (decision.retryAt !== undefined) {
      const retry: WebhookCommand = { ...command, attempt: command.attempt + 1, dueAt: decision.retryAt };
      out.push(this.topics.webhookRetry, {
        key: read.key,
        value: this.encoders.retry(retry),
        headers: {
          [HEADERS.dueAt]: String(decision.retryAt),
          [HEADERS.correlationId]: command.eventId,
          // The retry keeps the trace context the command came with (every attempt a child of the match), or continues this attempt's.
          ...(traceContextOf(read.headers) ? pickTraceHeaders(read) : a.spanHeaders()),
        },
      });
    }
    if (decision.deadLetter) out.push(this.topics.deadLetterWebhook, deadLetter(read, a.source, decision.deadLetter));
  }

  private logMessage(decision: Decision, { command, http, traceId, at }: AttemptContext): Message {
    const logId = deliveryLogId(command, decision.step);
    const record = newLogRecord({
      logId,
      tenantId: command.tenantId,
      triggerId: command.triggerId,
      eventId: command.eventId,
      eventType: command.eventType,
      commandId: command.commandId,
      step: decision.step,
      status: decision.status,
      time: at,
      attempt: command.attempt,
      origin: command.origin,
      message: decision.message,
      http,
      nextDueAt: decision.retryAt ?? null,
      traceId,
    });
    return {
      key: triggerKey(command.tenantId, command.triggerId),
      value: this.encoders.log(record),
      // The record's time as the message's: a reader that needs only the step, origin and time (the endpoint health) does not decode it.
      timestamp: String(at),
      headers: { [HEADERS.correlationId]: command.eventId, [HEADERS.logStep]: decision.step, [HEADERS.logId]: logId, [HEADERS.logOrigin]: command.origin },
    };
  }
}
