import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import { Gauge } from 'prom-client';
import type { DispatcherConfig } from '@triggers/config';
import { WebhookCommand, dueAtOf } from '@triggers/contracts';
import { BatchOutput, MessageSource, WindowedConsumer } from '@triggers/kafka';
import { AppRuntime, consumerHealthCheck } from '@triggers/runtime';
import { WebhookDeliveryService } from '../services/webhook-delivery.service';
import { replayedCommand } from '../services/delivery-decision';
import { WebhookSecretsStore } from '../services/webhook-secrets.store';

/**
 * Reads webhook commands and the retry tier in one consumer group with many deliveries in flight
 * (a slow receiver holds back only what its partition commits, never the others' deliveries).
 * Each partition's finished deliveries are committed with their records (log, retry, dead
 * letter) in one transaction. Retry partitions are paused until their head is due. Unreadable
 * commands go to the webhook dead-letter topic with the reason.
 */
@Injectable()
export class WebhookCommandHandler implements OnApplicationBootstrap, OnApplicationShutdown {
  private consumer?: WindowedConsumer<WebhookCommand>;
  private stopping = false;
  private running?: Promise<void>;

  constructor(
    private readonly delivery: WebhookDeliveryService,
    private readonly secrets: WebhookSecretsStore,
    private readonly rt: AppRuntime<DispatcherConfig>,
  ) {
    const pending = () => this.consumer?.pending ?? 0;
    new Gauge({
      name: 'triggers_webhook_in_flight',
      help: 'Webhook deliveries under way or queued for their origin',
      registers: [rt.metrics],
      collect() {
        this.set(pending());
      },
    });
    rt.health.register(
      consumerHealthCheck(
        'webhookConsumer',
        rt.config.groupId,
        () => this.consumer,
        () => ({ inFlight: pending(), waitingRetries: this.consumer?.waiting() ?? [], origins: this.delivery.client.load() }),
      ),
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
    const loaded = await this.rt.keepStarting('the trigger config feed', () => this.secrets.load(), {
      stopped: () => this.stopping,
      cleanup: () => this.secrets.stop(),
    });
    if (!loaded || this.stopping) return;
    const { webhookCommands, webhookRetry, deadLetterWebhook, log } = this.rt.config.kafka.topics;
    const { groupId, commitIntervalMs, transactionTimeoutMs } = this.rt.config;
    this.consumer = new WindowedConsumer<WebhookCommand>({
      ...this.rt.engine(groupId),
      transactionalIdPrefix: groupId,
      outputTopics: [log, webhookRetry],
      commitIntervalMs,
      transactionTimeoutMs,
      topics: [webhookCommands, webhookRetry],
      records: 'webhookCommands',
      deadLetterTopic: deadLetterWebhook,
      maxInFlight: this.rt.config.maxInFlight,
      // Deliveries waiting for a connection to their endpoint do not hold the window (slow is not hung).
      parked: () => this.delivery.client.waiting,
      dueAt: (m, source) => (source.topic === webhookRetry ? dueAtOf(m.headers) : null),
      handle: (command, m, source, out) => this.handle(command, m, source, out),
    });
    const consumer = this.consumer;
    this.delivery.onWait(() => consumer.wake());
    await consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
    await this.consumer?.stop(Math.max(1000, this.rt.config.shutdownTimeoutMs - 5000));
    await this.delivery.close();
  }

  private async handle(read: WebhookCommand, m: KafkaMessage, source: MessageSource, out: BatchOutput): Promise<void> {
    const command = replayedCommand(read, m);
    const outcome = await this.delivery.deliver(command, m, source, out);
    if (this.rt.logger.isLevelEnabled('debug'))
      this.rt.logger.debug(
        { ...source, offset: m.offset, tenantId: command.tenantId, commandId: command.commandId, attempt: command.attempt, outcome },
        'webhook command handled',
      );
  }
}
