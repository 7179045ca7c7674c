import { DynamicModule, Module } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { BaseConfig } from '@triggers/config';
import type { AvroSerde } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import { APP_CONFIG, APP_LOGGER, AVRO_SERDE, HEALTH_CHECKS, HealthRegistry, KAFKA, METRICS_REGISTRY } from '@triggers/runtime';
import { TriggerConfigFeed } from './trigger-config-feed';

/** The trigger config feed (apps that hold triggers: the matcher, the dispatcher). */
export const TRIGGER_CONFIG_FEED = Symbol('TRIGGER_CONFIG_FEED');

/**
 * Feeds the trigger config topic to an app, beside the RuntimeModule whose Kafka client, serde,
 * metrics and health checks it uses: /healthz then reports `triggerConfig`. The app's group names
 * the feed's throwaway group.
 */
@Module({})
export class TriggerConfigModule {
  static forApp(options: { groupId: string }): DynamicModule {
    return {
      module: TriggerConfigModule,
      providers: [
        {
          provide: TRIGGER_CONFIG_FEED,
          useFactory: (kafka: Kafka, serde: AvroSerde, config: BaseConfig, logger: Logger, metrics: Registry, health: HealthRegistry) => {
            const feed = new TriggerConfigFeed({ kafka, serde, logger, metrics, groupId: options.groupId, topic: config.kafka.topics.triggerConfig });
            health.register(feed.healthCheck());
            return feed;
          },
          inject: [KAFKA, AVRO_SERDE, APP_CONFIG, APP_LOGGER, METRICS_REGISTRY, HEALTH_CHECKS],
        },
      ],
      exports: [TRIGGER_CONFIG_FEED],
    };
  }
}
