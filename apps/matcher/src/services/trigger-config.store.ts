import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { Gauge, Registry } from 'prom-client';
import type { MatcherConfig } from '@triggers/config';
import type { TriggerConfigRecord } from '@triggers/contracts';
import { AvroSerde, CompactedTopicReader } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import { TriggerIndex, validateTrigger } from '@triggers/rules';
import { APP_CONFIG, APP_LOGGER, AVRO_SERDE, HEALTH_CHECKS, HealthRegistry, KAFKA, METRICS_REGISTRY } from '@triggers/runtime';

/**
 * The in-memory index of every tenant's triggers, fed by the compacted config topic. Every
 * instance reads the whole topic (its own throwaway group, from the beginning): at start-up to
 * the end offsets the topic had, before any event is judged, then live.
 */
@Injectable()
export class TriggerConfigStore implements OnApplicationShutdown {
  readonly index = new TriggerIndex();
  private reader?: CompactedTopicReader;
  private loaded = false;
  private readonly size: Gauge;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(AVRO_SERDE) private readonly serde: AvroSerde,
    @Inject(APP_CONFIG) private readonly config: MatcherConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(HEALTH_CHECKS) health: HealthRegistry,
  ) {
    this.size = new Gauge({ name: 'triggers_matcher_triggers', help: 'Triggers held in the index', registers: [registry] });
    health.register({
      name: 'triggerConfig',
      check: async () => ({ ok: this.loaded, detail: { loaded: this.loaded, triggers: this.index.size } }),
    });
  }

  /** Reads the config topic up to its current end; resolves once every trigger is indexed. */
  async load(): Promise<void> {
    this.reader = new CompactedTopicReader({
      kafka: this.kafka,
      topic: this.config.kafka.topics.triggerConfig,
      groupIdPrefix: `${this.config.groupId}-config`,
      apply: (key, value, offset) => this.apply(key, value, offset),
      logger: this.logger,
      summary: () => ({ triggers: this.index.size }),
    });
    await this.reader.start();
    this.loaded = true;
  }

  private async apply(key: string, value: Buffer | null, offset: string): Promise<void> {
    const slash = key.indexOf('/');
    if (slash <= 0) {
      this.logger.error({ key, offset }, 'config record with a key that is not <tenantId>/<triggerId>; ignored');
      return;
    }
    const tenantId = key.slice(0, slash);
    const triggerId = key.slice(slash + 1);
    if (value === null) {
      this.index.remove(tenantId, triggerId);
      this.logger.debug({ tenantId, triggerId, offset }, 'trigger removed');
      this.size.set(this.index.size);
      return;
    }
    let record: TriggerConfigRecord;
    try {
      record = (await this.serde.decode<TriggerConfigRecord>(value)).value;
    } catch (err) {
      this.logger.error({ err, key, offset }, 'unreadable trigger config record; the trigger is left out');
      this.index.remove(tenantId, triggerId);
      return;
    }
    // Re-validated so the index only ever holds triggers the rules accept, normalised.
    const valid = validateTrigger({
      name: record.name,
      eventType: record.eventType,
      enabled: record.enabled,
      parameters: { conditions: record.conditions, actions: record.actions },
    });
    if (!valid.ok) {
      this.logger.error({ key, offset, error: valid.error, details: valid.details }, 'invalid trigger on the config topic; left out');
      this.index.remove(tenantId, triggerId);
    } else {
      const applied = this.index.upsert(tenantId, triggerId, record.version, valid.trigger);
      this.logger.debug({ tenantId, triggerId, version: record.version, enabled: record.enabled, applied, offset }, 'trigger config applied');
    }
    this.size.set(this.index.size);
  }

  /** Stops reading the config topic (at shutdown, or before a retried load). */
  async stop(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    await reader?.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}
