import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka, KafkaMessage, Message } from 'kafkajs';
import { Counter, Registry } from 'prom-client';
import type { LogSinkConfig } from '@triggers/config';
import { ContractError, LogRecord, SCHEMAS } from '@triggers/contracts';
import { AvroSerde, BatchConsumer, deadLetter } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import { APP_CONFIG, APP_LOGGER, AVRO_SERDE, HEALTH_CHECKS, HealthRegistry, consumerHealthCheck, KAFKA, METRICS_REGISTRY } from '@triggers/runtime';
import { EventLogWriter } from '../services/event-log.writer';

/**
 * The log topic into MongoDB: each partition batch is decoded, written in one bulk upsert, and
 * only then committed. Unreadable records go to the log dead-letter topic with the reason.
 */
@Injectable()
export class LogBatchHandler implements OnApplicationBootstrap, OnApplicationShutdown {
  private consumer?: BatchConsumer;
  private readonly written: Counter;
  private readonly deadLetters: Counter;

  constructor(
    private readonly writer: EventLogWriter,
    @Inject(AVRO_SERDE) private readonly serde: AvroSerde,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(APP_CONFIG) private readonly config: LogSinkConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(HEALTH_CHECKS) health: HealthRegistry,
  ) {
    this.written = new Counter({ name: 'triggers_log_sink_records_total', help: 'Log records written to MongoDB', registers: [registry] });
    this.deadLetters = new Counter({ name: 'triggers_log_sink_dead_letters_total', help: 'Log records dead-lettered', registers: [registry] });
    health.register(consumerHealthCheck('logConsumer', config.groupId, () => this.consumer));
  }

  async onApplicationBootstrap(): Promise<void> {
    this.consumer = new BatchConsumer({
      kafka: this.kafka,
      groupId: this.config.groupId,
      topics: [this.config.kafka.topics.log],
      logger: this.logger,
      sessionTimeoutMs: this.config.kafka.sessionTimeoutMs,
      handle: (messages, source) => this.handle(messages, source),
    });
    await this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }

  private async handle(messages: KafkaMessage[], source: { topic: string; partition: number }): Promise<void> {
    const records: LogRecord[] = [];
    const dead: Message[] = [];
    for (const m of messages) {
      try {
        records.push(await this.serde.decodeAs<LogRecord>(m.value, SCHEMAS.logRecord));
      } catch (err) {
        if (!(err instanceof ContractError)) throw err;
        this.logger.warn({ ...source, offset: m.offset, reason: err.message }, 'log record dead-lettered');
        dead.push(deadLetter(m, source, err.message));
      }
    }
    // Both steps are safe to repeat, so a failure retries the whole batch.
    const { inserted, alreadyStored } = await this.writer.write(records);
    if (dead.length > 0) await this.consumer!.producer.send({ topic: this.config.kafka.topics.deadLetterLog, messages: dead });
    this.written.inc(inserted);
    this.deadLetters.inc(dead.length);
    this.logger.info(
      { ...source, firstOffset: messages[0].offset, lastOffset: messages[messages.length - 1].offset, inserted, alreadyStored, deadLettered: dead.length },
      'log batch written',
    );
  }
}
