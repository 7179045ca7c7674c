import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { DispatcherConfig } from '@triggers/config';
import type { TriggerConfigRecord } from '@triggers/contracts';
import type { AvroSerde } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import { APP_CONFIG, APP_LOGGER, AVRO_SERDE, HEALTH_CHECKS, HealthRegistry, KAFKA, TriggerConfigChange, TriggerConfigFeed } from '@triggers/runtime';

type Secret = TriggerConfigRecord['webhookSecrets'][number];

/**
 * The signing secrets of every trigger, from the compacted config topic (the API publishes them
 * there with the trigger). A trigger that is not found is looked up again once the topic has
 * been read to its current end, so a trigger created a moment ago is never mistaken for a
 * deleted one.
 */
@Injectable()
export class WebhookSecretsStore implements OnApplicationShutdown {
  private readonly secrets = new Map<string, Secret[]>();
  private readonly feed: TriggerConfigFeed;

  constructor(
    @Inject(KAFKA) kafka: Kafka,
    @Inject(AVRO_SERDE) serde: AvroSerde,
    @Inject(APP_CONFIG) config: DispatcherConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(HEALTH_CHECKS) health: HealthRegistry,
  ) {
    this.feed = new TriggerConfigFeed({ kafka, serde, logger, health, config, apply: (change) => this.apply(change), size: () => this.secrets.size });
  }

  load(): Promise<void> {
    return this.feed.load();
  }

  private apply(change: TriggerConfigChange): void {
    const { key, offset } = change;
    if (change.record === null) {
      this.secrets.delete(key);
    } else if (change.record === undefined) {
      // Kept as existing (not deleted), so its webhooks still go out, unsigned, until it is fixed.
      this.secrets.set(key, []);
      this.logger.error({ err: change.error, key, offset }, 'unreadable trigger config record; its webhooks go unsigned until it is fixed');
    } else {
      this.secrets.set(`${change.record.tenantId}/${change.record.triggerId}`, change.record.webhookSecrets);
    }
  }

  /**
   * The secrets to sign with now (those not past their end), or null when the trigger does not
   * exist (deleted).
   */
  async secretsFor(tenantId: string, triggerId: string, now: number): Promise<string[] | null> {
    const key = `${tenantId}/${triggerId}`;
    if (!this.secrets.has(key)) await this.feed.syncToEnd();
    const secrets = this.secrets.get(key);
    return secrets ? secrets.filter((s) => s.notAfter === null || s.notAfter > now).map((s) => s.secret) : null;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.feed.stop();
  }
}
