import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { Gauge, Registry } from 'prom-client';
import type { ApiConfig } from '@triggers/config';
import { HEADERS, parseTriggerKey, TriggerConfigRecord, triggerKey } from '@triggers/contracts';
import { AvroSerde, CompactedTopicReader, LazyProducer } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import { APP_CONFIG, APP_LOGGER, AVRO_SERDE, HEALTH_CHECKS, HealthRegistry, KAFKA, METRICS_REGISTRY } from '@triggers/runtime';
import { ConfigPublisher } from './config-publisher.service';
import { TriggerDocument, TriggerRepository } from '../trigger-store/trigger.repository';

/** What the config topic last said of a trigger. */
interface OnTopic {
  version: string;
  revision: string;
  tombstone: boolean;
}

/**
 * Holds the config topic to what is stored. It follows the topic (the last record of every key,
 * with its version and revision headers) and, at start-up and every CONFIG_REDRIVE_INTERVAL_MS,
 * compares it with every stored trigger: a trigger whose last record is missing, older, of other
 * content or a tombstone is published again, and a key whose trigger is gone gets a tombstone. The
 * matchers and dispatchers then run exactly what the API shows, whatever wrote to the topic.
 * `triggers_config_divergent` counts what the last pass found; `/healthz` shows it.
 */
@Injectable()
export class ConfigReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly onTopic = new Map<string, OnTopic>();
  private readonly reader: CompactedTopicReader<TriggerConfigRecord>;
  private readonly producer: LazyProducer;
  private readonly divergent: Gauge;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private last: { at: string; divergent: number } | undefined;

  constructor(
    private readonly repository: TriggerRepository,
    private readonly publisher: ConfigPublisher,
    @Inject(KAFKA) kafka: Kafka,
    @Inject(AVRO_SERDE) serde: AvroSerde,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(HEALTH_CHECKS) health: HealthRegistry,
  ) {
    this.producer = new LazyProducer(kafka);
    this.reader = new CompactedTopicReader<TriggerConfigRecord>({
      kafka,
      topic: config.kafka.topics.triggerConfig,
      groupIdPrefix: `${config.kafka.namespace}-triggers-api-reconciler`,
      serde,
      records: 'triggerConfig',
      apply: (key, value, offset, headers) =>
        this.onTopic.set(key, {
          version: headers[HEADERS.version]?.toString() ?? '',
          revision: headers[HEADERS.revision]?.toString() ?? '',
          tombstone: value === null,
        }),
      // An unreadable record is divergent by definition: the pass republishes the stored trigger.
      poison: (key) => this.onTopic.set(key, { version: '', revision: '', tombstone: false }),
      logger,
      metrics: registry,
    });
    this.divergent = new Gauge({
      name: 'triggers_config_divergent',
      help: 'Triggers whose config topic record differed from what is stored, at the last reconciliation',
      registers: [registry],
    });
    health.register({
      name: 'configReconciler',
      check: async () => ({ ok: true, detail: this.last ?? { at: null } }),
      live: () => this.reader.status.alive,
    });
  }

  /** Follows the topic and reconciles in the background: the API serves while Kafka is down. */
  onApplicationBootstrap(): void {
    this.running = (async () => {
      await this.reader.start();
      await this.reconcile().catch((err: unknown) => this.logger.warn({ err }, 'config reconciliation failed; retrying at the next interval'));
      this.timer = setInterval(
        () => void this.reconcile().catch((err: unknown) => this.logger.warn({ err }, 'config reconciliation failed')),
        this.config.redriveIntervalMs,
      );
      this.timer.unref();
    })().catch((err: unknown) => this.logger.error({ err }, 'config reconciler could not start'));
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    await this.reader.stop();
    await this.producer.disconnect();
  }

  /** One pass: republishes every divergent trigger; returns how many there were. */
  async reconcile(): Promise<number> {
    await this.reader.syncToEnd();
    const stored = await this.repository.all();
    const storedKeys = new Set<string>();
    let divergent = 0;
    // The topic was read before the store: a change published in between looks divergent. Each
    // suspect is judged again, the trigger read again and then the topic read to its end again, so
    // a change another publisher has just sent is never sent twice nor deleted.
    for (const listed of stored) {
      const key = triggerKey(listed.tenantId, listed._id);
      storedKeys.add(key);
      if (this.matchesTopic(listed, key)) continue;
      const t = await this.repository.findAnyById(listed._id);
      await this.reader.syncToEnd();
      if (!t || this.matchesTopic(t, key)) continue;
      divergent++;
      const seen = this.onTopic.get(key);
      this.logger.warn(
        { tenantId: t.tenantId, triggerId: t._id, stored: { version: t.version, revision: t.revision }, onTopic: seen ?? null },
        'config topic differs from the stored trigger; publishing it again',
      );
      await this.repository.markDirty(t._id);
      await this.publisher.sync(t._id);
    }
    for (const [key, seen] of this.onTopic) {
      if (seen.tombstone || storedKeys.has(key)) continue;
      const parsed = parseTriggerKey(key);
      if (parsed && (await this.repository.findAnyById(parsed.triggerId))) continue; // stored since the list was read
      divergent++;
      this.logger.warn({ key, onTopic: seen }, 'config topic holds a trigger that is not stored; deleting it there');
      await (await this.producer.get()).send({ topic: this.config.kafka.topics.triggerConfig, messages: [{ key, value: null }] });
    }
    this.divergent.set(divergent);
    this.last = { at: new Date().toISOString(), divergent };
    return divergent;
  }

  /** Whether the topic says what is stored; a change not published yet is the re-drive's, so it matches. */
  private matchesTopic(t: Pick<TriggerDocument, 'version' | 'revision' | 'deleted' | 'dirty'>, key: string): boolean {
    if (t.dirty) return true;
    const seen = this.onTopic.get(key);
    return t.deleted
      ? seen === undefined || seen.tombstone
      : seen !== undefined && !seen.tombstone && seen.version === String(t.version) && seen.revision === (t.revision ?? '');
  }
}
