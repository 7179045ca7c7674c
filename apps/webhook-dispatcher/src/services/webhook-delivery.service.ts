import { Injectable } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import { Counter, Histogram } from 'prom-client';
import type { DispatcherConfig } from '@triggers/config';
import type { WebhookCommand } from '@triggers/contracts';
import type { BatchOutput, MessageSource } from '@triggers/kafka';
import { AppRuntime } from '@triggers/runtime';
import { parseHttpUrl, redactUserinfo } from '@triggers/address-policy';
import { SpanKind } from '@triggers/tracing';
import { AddressGuard } from './address-guard';
import { WebhookClient } from './webhook-client';
import { AttemptResult, DeliveryOutcome, decide } from './delivery-decision';
import { OutcomeWriter } from './outcome-writer';
import { RetryPolicy } from './retry-policy';
import { sendWebhook } from './webhook-attempt';
import { WebhookSecretsStore } from './webhook-secrets.store';

/**
 * One delivery attempt of a webhook command, from the port's side: the signing secrets, the
 * attempt step (sign and POST), the decision ({@link decide}), and the outcome writer, which puts
 * what the decision says into the consumer's transaction. Around them, the attempt's span and
 * metrics. A crash before the transaction commits repeats the attempt (same `webhook-id`); its
 * records are written once.
 */
@Injectable()
export class WebhookDeliveryService {
  readonly client: WebhookClient;
  /** Taken once the registry first answers. */
  private writer?: OutcomeWriter;
  /** Told each time a delivery starts waiting for a connection to its endpoint. */
  private waitListener?: () => void;
  private readonly policy: RetryPolicy;
  private readonly outcomes: Counter<'outcome'>;
  private readonly durations: Histogram;

  constructor(
    private readonly secrets: WebhookSecretsStore,
    private readonly rt: AppRuntime<DispatcherConfig>,
  ) {
    const { config, metrics: registry } = rt;
    this.client = new WebhookClient(config.webhook, new AddressGuard(config.allowedCidrs), config.connectionsPerOrigin, () => this.waitListener?.());
    const { retryDelayMs: delayMs, retryWindowMs: windowMs, retryWindowMinuteMs: windowMinuteMs } = config.webhook;
    this.policy = { delayMs, windowMs, windowMinuteMs };
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

  /**
   * Taken on first use rather than at start-up, so a registry that is down delays deliveries
   * (the attempt fails and is tried again in place) instead of stopping the app.
   */
  private async loadWriter(): Promise<OutcomeWriter> {
    const [log, retry] = await Promise.all([this.rt.serde.encoderFor('log'), this.rt.serde.encoderFor('webhookRetry')]);
    return (this.writer = new OutcomeWriter(this.rt.config.kafka.topics, { log, retry }));
  }

  /** Calls `listener` each time a delivery starts waiting for a connection to its endpoint. */
  onWait(listener: () => void): void {
    this.waitListener = listener;
  }

  /** Closes connections; called once no delivery is under way any more. */
  async close(): Promise<void> {
    await this.client.close();
  }

  /**
   * Makes the command's next attempt and pushes its outcome's records to `out`; `read` is the
   * command's message as read from `source` (its key is kept, and a command given up goes to the
   * dead-letter topic as read).
   */
  async deliver(command: WebhookCommand, read: KafkaMessage, source: MessageSource, out: BatchOutput): Promise<DeliveryOutcome> {
    const writer = this.writer ?? (await this.loadWriter());
    const ctx = { tenantId: command.tenantId, triggerId: command.triggerId, commandId: command.commandId, attempt: command.attempt };
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
      const secrets = await this.secrets.secretsFor(command.tenantId, command.triggerId, Date.now());
      const sent = secrets === null ? null : await sendWebhook(this.client, command, url, secrets, span);
      const result: AttemptResult = sent?.result ?? { triggerDeleted: true };
      const at = Date.now();
      const decision = decide(command, result, this.policy, at);
      writer.write(out, decision, { command, read, source, http: sent?.http ?? null, traceId: span.traceId, spanHeaders: () => span.headers(), at });

      span.setAttributes({ 'triggers.outcome': decision.outcome });
      if (sent) {
        const { responseStatus: status, errorClass, error, durationMs } = sent.result;
        this.durations.observe(durationMs / 1000);
        if (status !== null) span.setAttributes({ 'http.response.status_code': status });
        if (errorClass !== null) span.fail(status !== null ? String(status) : errorClass, error ?? undefined);
      }
      this.outcomes.inc({ outcome: decision.outcome });
      if (this.rt.logger.isLevelEnabled('debug'))
        this.rt.logger.debug(
          {
            ...ctx,
            ...(this.rt.tracing.enabled ? span.logFields() : {}),
            outcome: decision.outcome,
            status: sent?.result.responseStatus,
            errorClass: sent?.result.errorClass,
            durationMs: sent?.result.durationMs,
          },
          'webhook attempt',
        );
      return decision.outcome;
    } finally {
      span.end();
    }
  }
}
