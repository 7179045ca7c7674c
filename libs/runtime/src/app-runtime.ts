import { Tracing, tracing } from '@triggers/tracing';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { BaseConfig } from '@triggers/config';
import { RecordTopicKey, deadLetterTopicOf } from '@triggers/contracts';
import { retryWithBackoff } from '@triggers/errors';
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

  /** Trace context and spans (recorded when OTEL_EXPORTER_OTLP_ENDPOINT is set). */
  get tracing(): Tracing {
    return tracing();
  }

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

  /** An engine's options for reading `records` (its topic, its records, its dead-letter topic) in `groupId`. */
  consuming(records: RecordTopicKey, groupId: string) {
    const topics = this.config.kafka.topics;
    return { ...this.engine(groupId), topics: [topics[records]], records, deadLetterTopic: topics[deadLetterTopicOf(records)] };
  }

  /**
   * Runs an app's `start` in the background until it succeeds, 1 s doubling to 30 s between
   * tries, each failure logged (`what` could not start) and `cleanup` run before the next try, so
   * a broker that is not up yet is waited for instead of crash-looping the process. Resolves
   * false when `stopped()` came first.
   */
  keepStarting(what: string, start: () => Promise<unknown>, options: { stopped: () => boolean; cleanup: () => Promise<void> }): Promise<boolean> {
    return retryWithBackoff(start, {
      firstMs: 1000,
      maxMs: 30_000,
      stopped: options.stopped,
      onFailure: async (err, retryInMs) => {
        this.logger.warn({ err, retryInMs }, `${what} could not start; retrying`);
        await options.cleanup().catch(() => undefined);
      },
    });
  }
}
