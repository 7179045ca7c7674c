import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { Gauge, Registry } from 'prom-client';
import type { ApiConfig } from '@triggers/config';
import { HEADERS, TriggerConfigRecord, triggerKey } from '@triggers/contracts';
import { AvroSerde, LazyProducer } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import { APP_CONFIG, APP_LOGGER, AVRO_SERDE, KAFKA, METRICS_REGISTRY } from '@triggers/runtime';
import { TriggerDocument, TriggerRepository } from '../trigger-store/trigger.repository';

/** The record the matcher (and the dispatcher, for secrets) reads from the config topic. */
export function toConfigRecord(doc: TriggerDocument): TriggerConfigRecord {
  return {
    tenantId: doc.tenantId,
    triggerId: doc._id,
    version: doc.version,
    name: doc.name,
    eventType: doc.eventType,
    enabled: doc.enabled,
    conditions: doc.conditions.map((c) => ({ reference: c.reference, operator: c.operator, value: c.value })),
    actions: doc.actions.map((a) => ({ action: a.action, parameters: { ...a.parameters } })),
    updatedAt: doc.updatedAt.getTime(),
    webhookSecrets: doc.webhookSecrets.map((s) => ({ id: s.id, secret: s.secret, notAfter: s.notAfter ? s.notAfter.getTime() : null })),
  };
}

/**
 * Puts trigger changes on the compacted config topic. A change is first stored (dirty), then
 * published, then marked published; a crash in between leaves it dirty, and the re-drive at
 * start-up and every CONFIG_REDRIVE_INTERVAL_MS publishes it. Publishing always sends the
 * document's current state with its version and revision (content hash) in headers, and marks
 * exactly that version and revision published, re-reading after, so the last message of a key on
 * the topic is the latest version even when two instances publish the same trigger at once.
 */
@Injectable()
export class ConfigPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly producer: LazyProducer;
  private timer?: NodeJS.Timeout;
  private readonly unpublished: Gauge;

  constructor(
    private readonly repository: TriggerRepository,
    @Inject(KAFKA) kafka: Kafka,
    @Inject(AVRO_SERDE) private readonly serde: AvroSerde,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.producer = new LazyProducer(kafka);
    this.unpublished = new Gauge({
      name: 'triggers_config_unpublished',
      help: 'Trigger changes stored but not yet on the config topic (at the last re-drive)',
      registers: [registry],
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    // Changes left unpublished by a crash go out before the API takes new ones.
    await this.redrive().catch((err: unknown) => this.logger.warn({ err }, 'start-up re-drive of trigger changes failed; retrying in the background'));
    this.timer = setInterval(() => void this.redrive().catch((err: unknown) => this.logger.warn({ err }, 're-drive failed')), this.config.redriveIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.producer.disconnect();
  }

  /** Publishes every stored change not yet on the topic. */
  async redrive(): Promise<number> {
    const ids = await this.repository.dirtyIds();
    this.unpublished.set(ids.length);
    for (const id of ids) await this.sync(id);
    if (ids.length > 0) this.logger.info({ count: ids.length }, 're-drove unpublished trigger changes to the config topic');
    return ids.length;
  }

  /** Brings the config topic up to date with one trigger's stored state. */
  async sync(triggerId: string): Promise<void> {
    const topic = this.config.kafka.topics.triggerConfig;
    for (let round = 0; round < 10; round++) {
      const doc = await this.repository.findAnyById(triggerId);
      if (!doc || (!doc.dirty && doc.publishedVersion === doc.version)) return;
      const value = doc.deleted ? null : await this.serde.encode('triggerConfig', toConfigRecord(doc));
      await (
        await this.producer.get()
      ).send({
        topic,
        messages: [
          { key: triggerKey(doc.tenantId, doc._id), value, headers: { [HEADERS.version]: String(doc.version), [HEADERS.revision]: doc.revision ?? '' } },
        ],
      });
      if (await this.repository.markPublished(doc._id, doc.version, doc.revision)) {
        if (doc.deleted) await this.repository.purge(doc._id, doc.version);
        this.logger.info({ topic, tenantId: doc.tenantId, triggerId: doc._id, version: doc.version, deleted: doc.deleted }, 'trigger change published');
        return;
      }
      // The document moved on while this version was sent: send the newer one too.
    }
  }
}
