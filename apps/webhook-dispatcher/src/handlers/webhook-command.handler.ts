import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import { Gauge } from 'prom-client';
import type { DispatcherConfig } from '@triggers/config';
import { DEAD_LETTER_HEADERS, WebhookCommand, dueAtOf } from '@triggers/contracts';
import { MessageSource, WindowedConsumer } from '@triggers/kafka';
import { AppRuntime, consumerHealthCheck } from '@triggers/runtime';
import { WebhookDeliveryService } from '../services/webhook-delivery.service';
import { DeliveredCommands } from '../services/delivered-commands';
import { WebhookSecretsStore } from '../services/webhook-secrets.store';

/**
 * A command sent back from the dead-letter topic by `dlq replay` starts a new delivery window,
 * counted from when it was replayed (its message's time, the same however often it is read), so a
 * webhook given up after 48 hours gets its full retries again rather than one attempt.
 */
export function replayedCommand(command: WebhookCommand, m: Pick<KafkaMessage, 'headers' | 'timestamp'>): WebhookCommand {
  if (m.headers?.[DEAD_LETTER_HEADERS.replayedFrom] === undefined) return command;
  return { ...command, attempt: 1, firstAttemptAt: Number(m.timestamp), dueAt: null };
}

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
    void this.delivered.start();
    const { webhookCommands, webhookRetry, deadLetterWebhook } = this.rt.config.kafka.topics;
    this.consumer = new WindowedConsumer<WebhookCommand>({
      ...this.rt.engine(this.rt.config.groupId),
      topics: [webhookCommands, webhookRetry],
      records: 'webhookCommands',
      deadLetterTopic: deadLetterWebhook,
      maxInFlight: this.rt.config.maxInFlight,
      dueAt: (m, source) => (source.topic === webhookRetry ? dueAtOf(m.headers) : null),
      handle: (command, m, source) => this.handle(command, m, source),
    });
    await this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
    await this.consumer?.stop(Math.max(1000, this.rt.config.shutdownTimeoutMs - 5000));
    await this.delivery.close();
  }

  private async handle(read: WebhookCommand, m: KafkaMessage, source: MessageSource): Promise<void> {
    const command = replayedCommand(read, m);
    const outcome = await this.delivery.deliver(command, m, source);
    if (this.rt.logger.isLevelEnabled('debug'))
      this.rt.logger.debug(
        { ...source, offset: m.offset, tenantId: command.tenantId, commandId: command.commandId, attempt: command.attempt, outcome },
        'webhook command handled',
      );
  }
}
