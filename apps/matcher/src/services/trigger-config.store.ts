import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { parseTriggerKey } from '@triggers/contracts';
import { TRIGGER_CONFIG_FEED, type TriggerConfigChange, type TriggerConfigFeed } from '@triggers/trigger-config';
import type { Logger } from '@triggers/logging';
import { TriggerIndex, validateTrigger } from '@triggers/rules';
import { APP_LOGGER, METRICS_REGISTRY } from '@triggers/runtime';

/**
 * The in-memory index of every tenant's triggers, fed by the compacted config topic. Every
 * instance reads the whole topic (its own throwaway group, from the beginning): at start-up to
 * the end offsets the topic had, before any event is judged, then live.
 */
@Injectable()
export class TriggerConfigStore implements OnApplicationShutdown {
  readonly index = new TriggerIndex();
  private readonly size: Gauge;

  constructor(
    @Inject(TRIGGER_CONFIG_FEED) private readonly feed: TriggerConfigFeed,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.size = new Gauge({ name: 'triggers_matcher_triggers', help: 'Triggers held in the index', registers: [registry] });
  }

  /** Reads the config topic up to its current end; resolves once every trigger is indexed. */
  load(): Promise<void> {
    return this.feed.load({ apply: (change) => this.apply(change), size: () => this.index.size });
  }

  private apply(change: TriggerConfigChange): void {
    const { key, offset } = change;
    const parsed = parseTriggerKey(key);
    if (!parsed) {
      this.logger.error({ key, offset }, 'config record with a key that is not <tenantId>/<triggerId>; ignored');
      return;
    }
    const { tenantId, triggerId } = parsed;
    if (change.record === null) {
      this.index.remove(tenantId, triggerId);
      this.logger.debug({ tenantId, triggerId, offset }, 'trigger removed');
      this.size.set(this.index.size);
      return;
    }
    if (change.record === undefined) {
      this.logger.error({ err: change.error, key, offset }, 'unreadable trigger config record; the trigger is left out');
      this.index.remove(tenantId, triggerId);
      return;
    }
    const record = change.record;
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
  stop(): Promise<void> {
    return this.feed.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}
