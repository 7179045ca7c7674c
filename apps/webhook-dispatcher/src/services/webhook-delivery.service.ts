import { Injectable, OnModuleInit } from '@nestjs/common';
import type { KafkaMessage, Message, Producer } from 'kafkajs';
import { Counter, Histogram } from 'prom-client';
import type { DispatcherConfig } from '@triggers/config';
import { HEADERS, HttpExchange, LogRecord, WebhookCommand, logIdFor, newLogRecord, triggerKey } from '@triggers/contracts';
import { BufferedProducer, MessageSource, createIdempotentProducer, deadLetter } from '@triggers/kafka';
import { AppRuntime } from '@triggers/runtime';
import { parseHttpUrl, redactUserinfo } from '@triggers/address-policy';
import { SpanKind, TraceSpan, traceContextOf } from '@triggers/tracing';
import { AddressGuard } from './address-guard';
import { WebhookClient, WebhookResult } from './webhook-client';
import { DeliveredCommands } from './delivered-commands';
import { nextAttempt } from './retry-policy';
import { WebhookSecretsStore } from './webhook-secrets.store';
import { signWebhook } from './webhook-signer';

type Encoder = (value: unknown) => Buffer;

/** What became of one delivery attempt. */
export type DeliveryOutcome = 'delivered' | 'retry' | 'gave_up' | 'blocked' | 'cancelled' | 'already_delivered';

/** Steps that end a command's delivery window: one record per command and window, not per attempt. */
const FINAL_STEPS = new Set(['webhook.delivered', 'webhook.gave_up', 'webhook.blocked']);

/**
 * The log id of a step of a command's delivery. A manual redelivery keeps the command id; its
 * origin and first attempt keep its records apart. Attempts have one record each; the final
 * outcome (delivered, gave up, blocked) one per command and window, whichever attempt reached it,
 * so a repeated attempt never makes a second `webhook.delivered`.
 */
export function deliveryLogId(command: WebhookCommand, step: string): string {
  return FINAL_STEPS.has(step)
    ? logIdFor(command.commandId, command.origin, command.firstAttemptAt, step)
    : logIdFor(command.commandId, command.origin, command.firstAttemptAt, command.attempt, step);
}

const deliveredIds = new WeakMap<WebhookCommand, string>();

/** The log id of the command's `webhook.delivered` record, hashed once per command as read (an attempt asks for it four times). */
function deliveredIdOf(command: WebhookCommand): string {
  let id = deliveredIds.get(command);
  if (id === undefined) deliveredIds.set(command, (id = deliveryLogId(command, 'webhook.delivered')));
  return id;
}

export const USER_AGENT = 'Triggers-Webhooks/1.0';

/** The W3C trace context headers of a message as read. */
function pickTraceHeaders(m: KafkaMessage): Record<string, Buffer | string> {
  const out: Record<string, Buffer | string> = {};
  for (const name of [HEADERS.traceparent, HEADERS.tracestate]) {
    const v = m.headers?.[name];
    if (v !== undefined && !Array.isArray(v)) out[name] = v;
  }
  return out;
}

/**
 * One delivery attempt of a webhook command and everything that follows from it: the signed
 * POST, then exactly one of delivered / retry scheduled on the delay topic / given up (the
 * message as read, to the dead-letter topic) / blocked by the SSRF guard / cancelled (trigger deleted), each with its
 * log record. The outcome's messages are acknowledged by Kafka before the attempt counts as
 * done, so a crash before that repeats the attempt (same `webhook-id`) rather than losing it.
 */
@Injectable()
export class WebhookDeliveryService implements OnModuleInit {
  readonly client: WebhookClient;
  private producer?: Producer;
  private out?: BufferedProducer;
  /** Encoders of the records an attempt writes, taken once the registry first answers. */
  private encoders?: { log: Encoder; retry: Encoder };
  private readonly outcomes: Counter<'outcome'>;
  private readonly durations: Histogram;

  constructor(
    private readonly secrets: WebhookSecretsStore,
    private readonly delivered: DeliveredCommands,
    private readonly rt: AppRuntime<DispatcherConfig>,
  ) {
    const { config, metrics: registry } = rt;
    this.client = new WebhookClient(config.webhook, new AddressGuard(config.allowedCidrs), config.connectionsPerOrigin);
    this.outcomes = new Counter({
      name: 'triggers_webhook_attempts_total',
      help: 'Webhook attempts by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.durations = new Histogram({
      name: 'triggers_webhook_request_seconds',
      help: 'Webhook request durations (to the end of the read response)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  }

  async onModuleInit(): Promise<void> {
    this.producer = createIdempotentProducer(this.rt.kafka);
    await this.producer.connect();
    // Log records wait up to 10 ms for others (after the POST: the receiver never waits for it).
    // Against 2 ms, the dispatcher bench made a fifth of the produce requests (397-470 against
    // 2,201-2,418 for 30,000 deliveries), with 255-302 µs of the dispatcher's CPU per delivery
    // against 337-377, and 76-104 µs of the broker's against 139-177.
    this.out = new BufferedProducer(this.producer, { lingerMs: 10 });
  }

  /**
   * Taken on first use rather than at start-up, so a registry that is down delays deliveries
   * (the attempt fails and is tried again in place) instead of stopping the app.
   */
  private async loadEncoders(): Promise<NonNullable<WebhookDeliveryService['encoders']>> {
    const [log, retry] = await Promise.all([this.rt.serde.encoderFor('log'), this.rt.serde.encoderFor('webhookRetry')]);
    return (this.encoders = { log, retry });
  }

  /** Closes connections; called once no delivery is under way any more. */
  async close(): Promise<void> {
    await this.client.close();
    await this.producer?.disconnect();
  }

  /** Sends messages through the shared batching producer. */
  private send(topicMessages: { topic: string; messages: Message[] }[]): Promise<void> {
    return this.out!.send(topicMessages);
  }

  /** Attempts under way, by the log id their delivery would have: one attempt of a command at a time here. */
  private readonly underWay = new Map<string, Promise<DeliveryOutcome>>();

  /**
   * Makes the command's next attempt and records its outcome; `read` is the command's message as read
   * from `source` (its key is kept, and a command given up goes to the dead-letter topic as read).
   * Attempts of one command (a retry arriving while a repeated attempt is under way) go one after
   * the other, so the second sees the first's delivery and is dropped.
   */
  async deliver(command: WebhookCommand, read: KafkaMessage, source: MessageSource): Promise<DeliveryOutcome> {
    const id = deliveredIdOf(command);
    for (let running = this.underWay.get(id); running; running = this.underWay.get(id)) await running.catch(() => undefined);
    const attempt = this.attempt(command, read, source);
    this.underWay.set(id, attempt);
    try {
      return await attempt;
    } finally {
      if (this.underWay.get(id) === attempt) this.underWay.delete(id);
    }
  }

  private async attempt(command: WebhookCommand, read: KafkaMessage, source: MessageSource): Promise<DeliveryOutcome> {
    const encoders = this.encoders ?? (await this.loadEncoders());
    const ctx = { tenantId: command.tenantId, triggerId: command.triggerId, commandId: command.commandId, attempt: command.attempt };
    // A retry may be stale: it waits until the recent deliveries of every instance are known.
    if (command.attempt > 1) await this.delivered.ready();
    if (this.delivered.has(deliveredIdOf(command))) {
      // A stale retry, or an attempt repeated after a crash, of a command delivered already.
      this.count('already_delivered', ctx);
      return 'already_delivered';
    }
    // The attempt continues the trace the command carries (its event's match); the receiver gets it as the parent.
    const url = parseHttpUrl(command.url);
    const span = this.rt.tracing.startSpan('POST', {
      kind: SpanKind.CLIENT,
      parent: read.headers,
      attributes: () => ({
        'http.request.method': 'POST',
        'url.full': redactUserinfo(command.url),
        ...(url ? { 'server.address': url.hostname, 'server.port': Number(url.port) || (url.protocol === 'https:' ? 443 : 80) } : {}),
        'triggers.attempt': command.attempt,
        'triggers.origin': command.origin,
        'triggers.command_id': command.commandId,
        'triggers.tenant_id': command.tenantId,
      }),
    });
    try {
      const outcome = await this.attemptIn(span, url, command, read, source, encoders, this.rt.tracing.enabled ? { ...ctx, ...span.logFields() } : ctx);
      span.setAttributes({ 'triggers.outcome': outcome });
      return outcome;
    } finally {
      span.end();
    }
  }

  private async attemptIn(
    span: TraceSpan,
    url: URL | undefined,
    command: WebhookCommand,
    read: KafkaMessage,
    source: MessageSource,
    encoders: NonNullable<WebhookDeliveryService['encoders']>,
    ctx: object,
  ): Promise<DeliveryOutcome> {
    const topics = this.rt.config.kafka.topics;
    const traceId = span.traceId;
    const secrets = await this.secrets.secretsFor(command.tenantId, command.triggerId, Date.now());
    if (secrets === null) {
      await this.send([
        { topic: topics.log, messages: [this.logMessage(command, 'webhook.gave_up', 'failed', 'cancelled: the trigger was deleted', traceId)] },
      ]);
      this.count('cancelled', ctx);
      return 'cancelled';
    }

    const timestamp = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'webhook-id': command.commandId,
      'webhook-timestamp': String(timestamp),
    };
    // secretsFor never answers an empty list (the delivery waits instead): no webhook leaves unsigned.
    headers['webhook-signature'] = signWebhook(secrets, command.commandId, timestamp, command.body);
    headers.traceparent = span.traceparent;
    if (span.tracestate) headers.tracestate = span.tracestate;

    const result: WebhookResult = url
      ? await this.client.post(url, headers, command.body)
      : {
          responseStatus: null,
          responseHeaders: {},
          responseBody: null,
          responseTruncated: false,
          durationMs: 0,
          errorClass: 'blocked',
          error: 'not an http(s) URL',
        };
    this.durations.observe(result.durationMs / 1000);
    const { error, ...response } = result;
    // Never a password in the Event Logs or on the log topic (such URLs are refused at save; older ones may remain).
    const http: HttpExchange = { method: 'POST', url: redactUserinfo(command.url), requestHeaders: headers, requestBody: command.body, ...response };

    if (result.errorClass === null) {
      const message = `delivered: HTTP ${result.responseStatus} in ${result.durationMs} ms (attempt ${command.attempt})`;
      span.setAttributes({ 'http.response.status_code': result.responseStatus! });
      await this.send([{ topic: topics.log, messages: [this.logMessage(command, 'webhook.delivered', 'ok', message, traceId, http)] }]);
      this.delivered.remember(deliveredIdOf(command));
      this.count('delivered', ctx, result);
      return 'delivered';
    }
    if (result.errorClass === 'blocked') {
      span.fail('blocked', error ?? undefined);
      await this.send([
        { topic: topics.log, messages: [this.logMessage(command, 'webhook.blocked', 'failed', `blocked, not retried: ${error}`, traceId, http)] },
      ]);
      this.count('blocked', ctx, result);
      return 'blocked';
    }

    const failure = result.responseStatus !== null ? `HTTP ${result.responseStatus}` : `${result.errorClass}: ${error}`;
    if (result.responseStatus !== null) span.setAttributes({ 'http.response.status_code': result.responseStatus });
    span.fail(result.responseStatus !== null ? String(result.responseStatus) : (result.errorClass ?? 'error'), failure);
    const failedAt = Date.now();
    const { retryDelayMs: delayMs, retryWindowMs: windowMs, retryWindowMinuteMs: windowMinuteMs } = this.rt.config.webhook;
    const next = nextAttempt(command, failedAt, { delayMs, windowMs, windowMinuteMs }, failure);
    if ('giveUp' in next) {
      await this.send([
        { topic: topics.log, messages: [this.logMessage(command, 'webhook.gave_up', 'failed', next.reason, traceId, http)] },
        { topic: topics.deadLetterWebhook, messages: [deadLetter(read, source, { reason: next.reason, errorClass: 'gave_up' })] },
      ]);
      this.count('gave_up', ctx, result);
      return 'gave_up';
    }
    const nextDueAt = next.retryAt;
    const retry: WebhookCommand = { ...command, attempt: command.attempt + 1, dueAt: nextDueAt };
    const message = `attempt ${command.attempt} failed: ${failure}; next attempt at ${new Date(nextDueAt).toISOString()}`;
    await this.send([
      { topic: topics.log, messages: [this.logMessage(command, 'webhook.attempt', 'failed', message, traceId, http, nextDueAt, failedAt)] },
      {
        topic: topics.webhookRetry,
        // The retry keeps the trace context the command came with (every attempt a child of the match), or continues this attempt's.
        messages: [
          {
            key: read.key,
            value: encoders.retry(retry),
            headers: {
              [HEADERS.dueAt]: String(nextDueAt),
              [HEADERS.correlationId]: command.eventId,
              ...(traceContextOf(read.headers) ? { ...pickTraceHeaders(read) } : span.headers()),
            },
          },
        ],
      },
    ]);
    this.count('retry', ctx, result);
    return 'retry';
  }

  private count(outcome: DeliveryOutcome, ctx: object, result?: WebhookResult): void {
    this.outcomes.inc({ outcome });
    if (this.rt.logger.isLevelEnabled('debug'))
      this.rt.logger.debug(
        { ...ctx, outcome, status: result?.responseStatus, errorClass: result?.errorClass, durationMs: result?.durationMs },
        'webhook attempt',
      );
  }

  private logMessage(
    command: WebhookCommand,
    step: string,
    status: LogRecord['status'],
    message: string,
    traceId: string | null,
    http: HttpExchange | null = null,
    nextDueAt: number | null = null,
    time = Date.now(),
  ): Message {
    const logId = step === 'webhook.delivered' ? deliveredIdOf(command) : deliveryLogId(command, step);
    const record = newLogRecord({
      logId,
      tenantId: command.tenantId,
      triggerId: command.triggerId,
      eventId: command.eventId,
      eventType: command.eventType,
      commandId: command.commandId,
      step,
      status,
      time,
      attempt: command.attempt,
      origin: command.origin,
      message,
      http,
      nextDueAt,
      traceId,
    });
    return {
      key: triggerKey(command.tenantId, command.triggerId),
      value: this.encoders!.log(record),
      headers: { [HEADERS.correlationId]: command.eventId, [HEADERS.logStep]: step, [HEADERS.logId]: logId },
    };
  }
}
