import type { Kafka } from 'kafkajs';
import type { TriggerConfigRecord } from '@triggers/contracts';
import { AvroSerde, CompactedTopicReader } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import type { HealthRegistry } from './health-checks';

/** One record of the trigger config topic, decoded: a trigger, a deletion (tombstone), or one that does not decode. */
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
  private reader?: CompactedTopicReader;
  private loaded = false;

  constructor(private readonly options: TriggerConfigFeedOptions) {
    options.health.register({
      name: 'triggerConfig',
      check: async () => ({ ok: this.loaded, detail: { loaded: this.loaded, triggers: options.size() } }),
    });
  }

  /** Reads the topic up to its current end, then follows it. */
  async load(): Promise<void> {
    const { kafka, config, logger, size } = this.options;
    this.reader = new CompactedTopicReader({
      kafka,
      topic: config.kafka.topics.triggerConfig,
      groupIdPrefix: `${config.groupId}-config`,
      apply: (key, value, offset) => this.decode(key, value, offset),
      logger,
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

  private async decode(key: string, value: Buffer | null, offset: string): Promise<void> {
    if (value === null) return this.options.apply({ key, offset, record: null });
    let record: TriggerConfigRecord;
    try {
      record = (await this.options.serde.decode<TriggerConfigRecord>(value)).value;
    } catch (error) {
      return this.options.apply({ key, offset, error });
    }
    this.options.apply({ key, offset, record });
  }
}
