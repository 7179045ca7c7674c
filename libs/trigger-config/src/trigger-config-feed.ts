import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { TriggerConfigRecord } from '@triggers/contracts';
import { type AvroSerde, CompactedTopicReader } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';

/**
 * One record of the trigger config topic, decoded: a trigger, a deletion (tombstone), or one that
 * is itself bad (poison). A record the registry could not be asked about yet is never reported:
 * the feed waits for the registry.
 */
export type TriggerConfigChange = { key: string; offset: string } & (
  { record: TriggerConfigRecord } | { record: null } | { record?: undefined; error: unknown }
);

/** Options of a {@link TriggerConfigFeed}. */
export interface TriggerConfigFeedOptions {
  kafka: Kafka;
  serde: AvroSerde;
  logger: Logger;
  metrics?: Registry;
  /** The app's group: the feed reads in a throwaway group `<groupId>-config-<random>`. */
  groupId: string;
  /** The config topic's name. */
  topic: string;
}

/** An app's own view of the triggers, which the feed keeps up to date. */
export interface TriggerConfigView {
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
  private view?: TriggerConfigView;

  constructor(private readonly options: TriggerConfigFeedOptions) {}

  /** The app's `triggerConfig` check for /healthz: ready once loaded and waiting for nothing. */
  healthCheck(): { name: string; check(): Promise<{ ok: boolean; detail: object }>; live(): boolean } {
    return {
      name: 'triggerConfig',
      check: async () => {
        const waitingOn = this.reader?.status.waitingOn() ?? [];
        return {
          ok: this.loaded && waitingOn.length === 0,
          detail: { loaded: this.loaded, triggers: this.view?.size() ?? 0, ...(waitingOn.length > 0 ? { waitingOn } : {}) },
        };
      },
      live: () => this.reader?.status.alive ?? true,
    };
  }

  /** Reads the topic into `view` up to its current end, then follows it. */
  async load(view: TriggerConfigView): Promise<void> {
    const { kafka, groupId, topic, logger } = this.options;
    this.view = view;
    this.reader = new CompactedTopicReader<TriggerConfigRecord>({
      kafka,
      topic,
      groupIdPrefix: `${groupId}-config`,
      serde: this.options.serde,
      records: 'triggerConfig',
      apply: (key, record, offset) => view.apply({ key, offset, record }),
      poison: (key, offset, error) => view.apply({ key, offset, error }),
      logger,
      metrics: this.options.metrics,
      summary: () => ({ triggers: view.size() }),
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
