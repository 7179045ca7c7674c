import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { Counter, Registry } from 'prom-client';
import type { LogSinkConfig } from '@triggers/config';
import { LogRecord } from '@triggers/contracts';
import { AvroSerde, BatchConsumer, DecodedMessage, MessageSource } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import { APP_CONFIG, APP_LOGGER, AVRO_SERDE, HEALTH_CHECKS, HealthRegistry, consumerHealthCheck, KAFKA, METRICS_REGISTRY } from '@triggers/runtime';
import { EventLogWriter } from '../services/event-log.writer';

/**
 * The log topic into MongoDB: each partition batch is decoded, written in one bulk upsert, and
 * only then committed. Unreadable records go to the log dead-letter topic with the reason.
 */
@Injectable()
export class LogBatchHandler implements OnApplicationBootstrap, OnApplicationShutdown {
  private consumer?: BatchConsumer<LogRecord>;
  private readonly written: Counter;

  constructor(
    private readonly writer: EventLogWriter,
    @Inject(AVRO_SERDE) private readonly serde: AvroSerde,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(APP_CONFIG) private readonly config: LogSinkConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
    @Inject(HEALTH_CHECKS) health: HealthRegistry,
  ) {
    this.written = new Counter({ name: 'triggers_log_sink_records_total', help: 'Log records written to MongoDB', registers: [registry] });
    health.register(consumerHealthCheck('logConsumer', config.groupId, () => this.consumer));
  }

  /** Starts in the background: /healthz answers while Kafka or the registry is still down. */
  onApplicationBootstrap(): void {
    const { log, deadLetterLog } = this.config.kafka.topics;
    this.consumer = new BatchConsumer<LogRecord>({
      kafka: this.kafka,
      groupId: this.config.groupId,
      topics: [log],
      logger: this.logger,
      metrics: this.registry,
      serde: this.serde,
      records: 'log',
      deadLetterTopic: deadLetterLog,
      sessionTimeoutMs: this.config.kafka.sessionTimeoutMs,
      giveUpAfterMs: this.config.kafka.consumerGiveUpMs,
      handle: (records, source) => this.handle(records, source),
    });
    void this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }

  /** One bulk upsert of the batch's records; safe to repeat, so a failure retries the whole batch. */
  private async handle(records: DecodedMessage<LogRecord>[], source: MessageSource): Promise<void> {
    const { inserted, alreadyStored } = await this.writer.write(records.map((r) => r.value));
    this.written.inc(inserted);
    this.logger.info(
      { ...source, firstOffset: records[0].message.offset, lastOffset: records[records.length - 1].message.offset, inserted, alreadyStored },
      'log batch written',
    );
  }
}
