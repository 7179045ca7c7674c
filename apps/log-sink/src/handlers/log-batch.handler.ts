import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { LogSinkConfig } from '@triggers/config';
import { LogRecord } from '@triggers/contracts';
import { BatchConsumer, DecodedMessage, MessageSource } from '@triggers/kafka';
import { AppRuntime, consumerHealthCheck } from '@triggers/runtime';
import { EVENT_LOGS_COLLECTION } from '@triggers/mongo';
import { SpanKind } from '@triggers/tracing';
import { EventLogWriter } from '../services/event-log.writer';

/**
 * The log topic into MongoDB: each partition batch is decoded, written in one bulk insert,
 * counted in its triggers' stats, and only then committed. Unreadable records go to the log dead-letter topic with the reason.
 */
@Injectable()
export class LogBatchHandler implements OnApplicationBootstrap, OnApplicationShutdown {
  private consumer?: BatchConsumer<LogRecord>;
  private readonly written: Counter;

  constructor(
    private readonly writer: EventLogWriter,
    private readonly rt: AppRuntime<LogSinkConfig>,
  ) {
    this.written = new Counter({ name: 'triggers_log_sink_records_total', help: 'Log records written to MongoDB', registers: [rt.metrics] });
    rt.health.register(consumerHealthCheck('logConsumer', rt.config.groupId, () => this.consumer));
  }

  /** Starts in the background: /healthz answers while Kafka or the registry is still down. */
  onApplicationBootstrap(): void {
    this.consumer = new BatchConsumer<LogRecord>({
      ...this.rt.consuming('log', this.rt.config.groupId),
      handle: (records, source) => this.handle(records, source),
    });
    void this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }

  /** One bulk insert of the batch's records, then their stats; safe to repeat, so a failure retries the whole batch. */
  private async handle(records: DecodedMessage<LogRecord>[], source: MessageSource): Promise<void> {
    const tracing = this.rt.tracing;
    // The batch write is its own trace (its records belong to many); only recorded when tracing is on.
    const span = tracing.enabled
      ? tracing.startSpan('insert event_logs', {
          kind: SpanKind.CLIENT,
          attributes: {
            'db.system.name': 'mongodb',
            'db.operation.name': 'insert',
            'db.collection.name': EVENT_LOGS_COLLECTION,
            'messaging.destination.name': source.topic,
            'messaging.destination.partition.id': String(source.partition),
            'messaging.batch.message_count': records.length,
          },
        })
      : undefined;
    try {
      const batch = records.map((r) => ({ record: r.value, offset: Number(r.message.offset) }));
      const { inserted, alreadyStored, statsWritten } = await this.writer.write(batch, source.partition);
      span?.setAttributes({ 'triggers.inserted': inserted, 'triggers.already_stored': alreadyStored, 'triggers.stats_written': statsWritten });
      this.written.inc(inserted);
      this.rt.logger.info(
        { ...source, firstOffset: records[0].message.offset, lastOffset: records[records.length - 1].message.offset, inserted, alreadyStored, statsWritten },
        'log batch written',
      );
    } catch (err) {
      span?.fail((err as Error).name, (err as Error).message);
      throw err;
    } finally {
      span?.end();
    }
  }
}
