import { retryWithBackoff } from '@triggers/errors';
import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { Gauge, Registry } from 'prom-client';
import type { DispatcherConfig } from '@triggers/config';
import { WebhookCommand, dueAtOf } from '@triggers/contracts';
import { AvroSerde, MessageSource, WindowedConsumer } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import { APP_CONFIG, APP_LOGGER, AVRO_SERDE, HEALTH_CHECKS, HealthRegistry, consumerHealthCheck, KAFKA, METRICS_REGISTRY } from '@triggers/runtime';
import { WebhookDeliveryService } from '../services/webhook-delivery.service';
import { DeliveredCommands } from '../services/delivered-commands';
import { WebhookSecretsStore } from '../services/webhook-secrets.store';

/**
 * Reads webhook commands and the retry tier in one consumer group with many deliveries in flight
 * (a slow receiver holds back only the committed offset of its partition, never the others'
 * deliveries). Retry partitions are paused until their head is due. Unreadable commands go to
 * the webhook dead-letter topic with the reason.
 */
@Injectable()
export class WebhookCommandHandler implements OnApplicationBootstrap, OnApplicationShutdown {
  private consumer?: WindowedConsumer<WebhookCommand>;
  private stopping = false;
  private running?: Promise<void>;

  constructor(
    private readonly delivery: WebhookDeliveryService,
    private readonly secrets: WebhookSecretsStore,
    private readonly delivered: DeliveredCommands,
    @Inject(AVRO_SERDE) private readonly serde: AvroSerde,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(APP_CONFIG) private readonly config: DispatcherConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
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

  /**
   * Starts in the background, so /healthz answers (503 naming what is missing) while Kafka or the
   * registry is still down, and nothing is read before the signing secrets are.
   */
  onApplicationBootstrap(): void {
    this.running = this.start();
  }

  private async start(): Promise<void> {
    // Secrets first: a webhook is never sent unsigned because the config was not read yet.
    const loaded = await retryWithBackoff(() => this.secrets.load(), {
      firstMs: 1000,
      maxMs: 30_000,
      stopped: () => this.stopping,
      onFailure: async (err, retryInMs) => {
        this.logger.warn({ err, retryInMs }, 'trigger config could not be read; retrying');
        await this.secrets.stop().catch(() => undefined);
      },
    });
    if (!loaded || this.stopping) return;
    void this.delivered.start();
    const { webhookCommands, webhookRetry, deadLetterWebhook } = this.config.kafka.topics;
    this.consumer = new WindowedConsumer<WebhookCommand>({
      kafka: this.kafka,
      groupId: this.config.groupId,
      topics: [webhookCommands, webhookRetry],
      logger: this.logger,
      metrics: this.registry,
      serde: this.serde,
      records: 'webhookCommands',
      deadLetterTopic: deadLetterWebhook,
      sessionTimeoutMs: this.config.kafka.sessionTimeoutMs,
      giveUpAfterMs: this.config.kafka.consumerGiveUpMs,
      maxInFlight: this.config.maxInFlight,
      dueAt: (m, source) => (source.topic === webhookRetry ? dueAtOf(m.headers) : null),
      handle: (command, m, source) => this.handle(command, m, source),
    });
    await this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
    await this.consumer?.stop(Math.max(1000, this.config.shutdownTimeoutMs - 5000));
    await this.delivery.close();
  }

  private async handle(command: WebhookCommand, m: KafkaMessage, source: MessageSource): Promise<void> {
    const outcome = await this.delivery.deliver(command, m, source);
    if (this.logger.isLevelEnabled('debug')) this.logger.debug({ ...source, offset: m.offset, tenantId: command.tenantId, commandId: command.commandId, attempt: command.attempt, outcome }, 'webhook command handled');
  }
}

