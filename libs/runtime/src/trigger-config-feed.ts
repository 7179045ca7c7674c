import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { TriggerConfigRecord } from '@triggers/contracts';
import { AvroSerde, CompactedTopicReader } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import type { HealthRegistry } from './health-checks';

/**
 * One record of the trigger config topic, decoded: a trigger, a deletion (tombstone), or one that
 * is itself bad (poison). A record the registry could not be asked about yet is never reported:
 * the feed waits for the registry.
 */
export type TriggerConfigChange = { key: string; offset: string } & (
  | { record: TriggerConfigRecord }
  | { record: null }
  | { record?: undefined; error: unknown }
);

/** Options of a {@link TriggerConfigFeed}. */
export interface TriggerConfigFeedOptions {
  kafka: Kafka;
  serde: AvroSerde;
  logger: Logger;
  health: HealthRegistry;
  metrics?: Registry;
  /** The app's group (the feed reads in a throwaway group `<groupId>-config-<random>`) and topics. */
  config: { groupId: string; kafka: { topics: { triggerConfig: string } } };
  /** Applies one change, in offset order; what an undecodable record means is the app's call. */
  apply: (change: TriggerConfigChange) => void;
  /** How many triggers the app holds, for /healthz and the start-up log line. */
  size: () => number;
}

/**
 * Every trigger of every tenant, as the API publishes them to the compacted config topic, fed to
 * an app's own in-memory view: the whole topic at `load` (which resolves once the records the topic
 * held are applied), then live. /healthz reports `triggerConfig` ready once loaded.
 */
export class TriggerConfigFeed {
  private reader?: CompactedTopicReader<TriggerConfigRecord>;
  private loaded = false;

  constructor(private readonly options: TriggerConfigFeedOptions) {
    options.health.register({
      name: 'triggerConfig',
      check: async () => {
        const waitingOn = this.reader?.status.waitingOn() ?? [];
        return { ok: this.loaded && waitingOn.length === 0, detail: { loaded: this.loaded, triggers: options.size(), ...(waitingOn.length > 0 ? { waitingOn } : {}) } };
      },
      live: () => this.reader?.status.alive ?? true,
    });
  }

  /** Reads the topic up to its current end, then follows it. */
  async load(): Promise<void> {
    const { kafka, config, logger, size } = this.options;
    this.reader = new CompactedTopicReader<TriggerConfigRecord>({
      kafka,
      topic: config.kafka.topics.triggerConfig,
      groupIdPrefix: `${config.groupId}-config`,
      serde: this.options.serde,
      records: 'triggerConfig',
      apply: (key, record, offset) => this.options.apply({ key, offset, record }),
      poison: (key, offset, error) => this.options.apply({ key, offset, error }),
      logger,
      metrics: this.options.metrics,
      summary: () => ({ triggers: size() }),
    });
    await this.reader.start();
    this.loaded = true;
  }

  /** Resolves once every record the topic holds now is applied (a trigger created a moment ago included). */
  syncToEnd(): Promise<void> {
    return this.reader!.syncToEnd();
  }

  /** Stops following the topic (at shutdown, or before a retried load). */
  async stop(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    await reader?.stop();
  }
}
