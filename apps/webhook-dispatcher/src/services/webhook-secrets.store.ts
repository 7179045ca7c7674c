import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { DispatcherConfig } from '@triggers/config';
import type { TriggerConfigRecord } from '@triggers/contracts';
import { AvroSerde, CompactedTopicReader } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import { APP_CONFIG, APP_LOGGER, AVRO_SERDE, HEALTH_CHECKS, HealthRegistry, KAFKA } from '@triggers/runtime';

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
  private reader?: CompactedTopicReader;
  private loaded = false;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(AVRO_SERDE) private readonly serde: AvroSerde,
    @Inject(APP_CONFIG) private readonly config: DispatcherConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(HEALTH_CHECKS) health: HealthRegistry,
  ) {
    health.register({ name: 'triggerConfig', check: async () => ({ ok: this.loaded, detail: { loaded: this.loaded, triggers: this.secrets.size } }) });
  }

  async load(): Promise<void> {
    this.reader = new CompactedTopicReader({
      kafka: this.kafka,
      topic: this.config.kafka.topics.triggerConfig,
      groupIdPrefix: `${this.config.groupId}-config`,
      apply: (key, value, offset) => this.apply(key, value, offset),
      logger: this.logger,
      summary: () => ({ triggers: this.secrets.size }),
    });
    await this.reader.start();
    this.loaded = true;
  }

  private async apply(key: string, value: Buffer | null, offset: string): Promise<void> {
    if (value === null) {
      this.secrets.delete(key);
      return;
    }
    try {
      const record = (await this.serde.decode<TriggerConfigRecord>(value)).value;
      this.secrets.set(`${record.tenantId}/${record.triggerId}`, record.webhookSecrets);
    } catch (err) {
      // Kept as existing (not deleted), so its webhooks still go out, unsigned, until it is fixed.
      this.secrets.set(key, []);
      this.logger.error({ err, key, offset }, 'unreadable trigger config record; its webhooks go unsigned until it is fixed');
    }
  }

  /**
   * The secrets to sign with now (those not past their end), or null when the trigger does not
   * exist (deleted).
   */
  async secretsFor(tenantId: string, triggerId: string, now: number): Promise<string[] | null> {
    const key = `${tenantId}/${triggerId}`;
    if (!this.secrets.has(key)) await this.reader!.syncToEnd();
    const secrets = this.secrets.get(key);
    return secrets ? secrets.filter((s) => s.notAfter === null || s.notAfter > now).map((s) => s.secret) : null;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.reader?.stop();
  }
}
