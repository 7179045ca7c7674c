import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { BaseConfig } from '@triggers/config';
import type { AvroSerde } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import type { HealthRegistry } from './health-checks';

/**
 * What every app's services share, injected as one: the app's configuration, logger, Kafka
 * client, Avro serde, metrics registry and /healthz checks (the RuntimeModule provides it).
 */
export class AppRuntime<C extends BaseConfig = BaseConfig> {
  constructor(
    readonly config: C,
    readonly logger: Logger,
    readonly kafka: Kafka,
    readonly serde: AvroSerde,
    readonly metrics: Registry,
    readonly health: HealthRegistry,
  ) {}

  /** What every consumer engine takes from its app: the client, the group, logs, metrics, the serde and the consumer timeouts. */
  engine(groupId: string) {
    return {
      kafka: this.kafka,
      groupId,
      logger: this.logger,
      metrics: this.metrics,
      serde: this.serde,
      sessionTimeoutMs: this.config.kafka.sessionTimeoutMs,
      giveUpAfterMs: this.config.kafka.consumerGiveUpMs,
    };
  }
}
