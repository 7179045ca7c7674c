import type { EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { GroupConsumer, createGroupConsumer } from './group-consumer';
import { createIdempotentProducer } from './producers';
import type { Logger } from '@triggers/logging';

/** Options of a {@link BatchConsumer}. */
export interface BatchConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topics: string[];
  logger: Logger;
  /**
   * Handles one partition batch; throwing means "not done", and the batch is retried. A handler
   * that finished some messages before failing reports the last of them with `done(offset)`:
   * the retry then starts after it instead of judging them twice.
   */
  handle: (messages: KafkaMessage[], source: { topic: string; partition: number }, done: (offset: string) => void) => Promise<void>;
  /** First and longest wait between retries of a failing batch. */
  retryMinMs?: number;
  retryMaxMs?: number;
  sessionTimeoutMs?: number;
}

/**
 * At-least-once batch consumption with `read_committed`, with an idempotent producer of its own
 * for what the handler writes (`producer`): offsets are committed only after the
 * handler finished the batch. A failing batch (a database that is down) is retried in place with
 * backoff while heartbeats keep the partition assigned, so nothing is skipped and the process
 * does not crash-loop; it resumes where it stopped once the handler succeeds.
 */
export class BatchConsumer {
  private group?: GroupConsumer;
  private stopping = false;
  private ownProducer?: Producer;

  constructor(private readonly options: BatchConsumerOptions) {}

  /**
   * An idempotent producer for what the handler writes (log records, dead letters), connected by
   * {@link start} before the first batch and disconnected by {@link stop} after the last.
   */
  get producer(): Producer {
    if (!this.ownProducer) throw new Error('BatchConsumer.producer is available once start() has run');
    return this.ownProducer;
  }

  async start(): Promise<void> {
    const { kafka, groupId, topics, logger } = this.options;
    this.ownProducer = createIdempotentProducer(kafka);
    await this.ownProducer.connect();
    this.group = createGroupConsumer(kafka, { groupId, sessionTimeoutMs: this.options.sessionTimeoutMs, maxWaitTimeInMs: 500 });
    const { consumer } = this.group;
    await consumer.connect();
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.processBatch(p) });
    logger.info({ groupId, topics }, 'batch consumer started');
  }

  private async processBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const source = { topic: batch.topic, partition: batch.partition };
    let delay = this.options.retryMinMs ?? 500;
    let pending = batch.messages;
    let finished: bigint | undefined;
    const done = (offset: string) => void (finished = BigInt(offset));
    for (let attempt = 1; ; attempt++) {
      if (!isRunning() || isStale() || this.stopping) return;
      try {
        await this.options.handle(pending, source, done);
        break;
      } catch (err) {
        if (finished !== undefined) pending = pending.filter((m) => BigInt(m.offset) > finished!);
        this.options.logger.warn(
          { err, ...source, firstOffset: batch.firstOffset(), attempt, retryInMs: delay },
          'batch failed; retrying it (offsets stay where they are)',
        );
        const until = Date.now() + delay;
        while (Date.now() < until && isRunning() && !this.stopping) {
          await heartbeat();
          await new Promise((r) => setTimeout(r, Math.min(1000, until - Date.now())));
        }
        delay = Math.min(delay * 2, this.options.retryMaxMs ?? 30_000);
      }
    }
    resolveOffset(batch.messages[batch.messages.length - 1].offset);
    await commitOffsetsIfNecessary();
    await heartbeat();
  }

  /** The partitions this instance owns, by topic (undefined while joining). */
  assignment(): Record<string, number[]> | undefined {
    return this.group?.assignment();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.group?.consumer.disconnect();
    await this.ownProducer?.disconnect();
  }
}
