import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { Gauge, Registry } from 'prom-client';
import type { DispatcherConfig } from '@triggers/config';
import { ContractError, SCHEMAS, WebhookCommand } from '@triggers/contracts';
import { AvroSerde, MessageSource, WindowedConsumer, deadLetter } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import { APP_CONFIG, APP_LOGGER, AVRO_SERDE, HEALTH_CHECKS, HealthRegistry, consumerHealthCheck, KAFKA, METRICS_REGISTRY } from '@triggers/runtime';
import { DUE_AT_HEADER, WebhookDeliveryService } from '../services/webhook-delivery.service';
import { WebhookSecretsStore } from '../services/webhook-secrets.store';

/**
 * Reads webhook commands and the retry tier in one consumer group with many deliveries in flight
 * (a slow receiver holds back only the committed offset of its partition, never the others'
 * deliveries). Retry partitions are paused until their head is due. Unreadable commands go to
 * the webhook dead-letter topic with the reason.
 */
@Injectable()
export class WebhookCommandHandler implements OnApplicationBootstrap, OnApplicationShutdown {
  private consumer?: WindowedConsumer;

  constructor(
    private readonly delivery: WebhookDeliveryService,
    private readonly secrets: WebhookSecretsStore,
    @Inject(AVRO_SERDE) private readonly serde: AvroSerde,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(APP_CONFIG) private readonly config: DispatcherConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(HEALTH_CHECKS) health: HealthRegistry,
  ) {
    const pending = () => this.consumer?.pending ?? 0;
    new Gauge({
      name: 'triggers_webhook_in_flight',
      help: 'Webhook deliveries under way or queued for their origin',
      registers: [registry],
      collect() {
        this.set(pending());
      },
    });
    health.register(
      consumerHealthCheck('webhookConsumer', config.groupId, () => this.consumer, () => ({ inFlight: pending(), waitingRetries: this.consumer?.waiting() ?? [], origins: this.delivery.client.load() })),
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    // Secrets first: a webhook is never sent unsigned because the config was not read yet.
    await this.secrets.load();
    const { webhookCommands, webhookRetry } = this.config.kafka.topics;
    this.consumer = new WindowedConsumer({
      kafka: this.kafka,
      groupId: this.config.groupId,
      topics: [webhookCommands, webhookRetry],
      logger: this.logger,
      sessionTimeoutMs: this.config.kafka.sessionTimeoutMs,
      maxInFlight: this.config.maxInFlight,
      dueAt: (m, source) => (source.topic === webhookRetry ? dueAtOf(m) : null),
      handle: (m, source) => this.handle(m, source),
    });
    await this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop(Math.max(1000, this.config.shutdownTimeoutMs - 5000));
    await this.delivery.close();
  }

  private async handle(m: KafkaMessage, source: MessageSource): Promise<void> {
    let command: WebhookCommand;
    try {
      command = await this.serde.decodeAs<WebhookCommand>(m.value, SCHEMAS.webhookCommand);
    } catch (err) {
      if (!(err instanceof ContractError)) throw err; // the registry is down: tried again in place
      this.logger.warn({ ...source, offset: m.offset, reason: err.message }, 'webhook command dead-lettered');
      await this.delivery.send([{ topic: this.config.kafka.topics.deadLetterWebhook, messages: [deadLetter(m, source, err.message)] }]);
      return;
    }
    const outcome = await this.delivery.deliver(command, m.key);
    if (this.logger.isLevelEnabled('debug')) this.logger.debug({ ...source, offset: m.offset, tenantId: command.tenantId, commandId: command.commandId, attempt: command.attempt, outcome }, 'webhook command handled');
  }
}

function dueAtOf(m: KafkaMessage): number | null {
  const raw = m.headers?.[DUE_AT_HEADER];
  const due = raw === undefined ? NaN : Number(raw.toString());
  return Number.isFinite(due) ? due : null;
}
