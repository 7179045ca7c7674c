import { classify, retryWithBackoff } from '@triggers/errors';
import type { EachBatchPayload, KafkaMessage, Message, Producer } from 'kafkajs';
import { ConsumerStatus } from './consumer-status';
import type { MessageSource } from './dead-letters';
import { SupervisedConsumer, onBatchEnd } from './group-consumer';
import { AbandonedError, ConsumerEngineOptions, KeepAlive, MessageJudge } from './message-judge';
import { createIdempotentProducer } from './producers';

/** A decoded message: its typed value and the message it came in. */
export interface DecodedMessage<T> {
  value: T;
  message: KafkaMessage;
}

/** What a batch handler tells its engine while it works. */
export interface BatchProgress {
  /**
   * Every message up to `offset` is finished (its effects and records written): it is committed
   * before any wait or retry, and tries after a failure start after it, so a rebalance or a
   * crash never judges finished work twice.
   */
  done(offset: string): void;
  /** Keeps the group membership during a long batch; cheap to call between messages. */
  heartbeat(): Promise<void>;
}

/** Options of a {@link BatchConsumer}. */
export interface BatchConsumerOptions<T> extends ConsumerEngineOptions<T> {
  /**
   * Handles the decoded messages of one partition batch, in offset order (poison already
   * dead-lettered). Throwing means "not done": a transient error is waited out and the rest tried
   * again; anything else is judged per message, so only the message that throws it is
   * dead-lettered.
   */
  handle: (records: DecodedMessage<T>[], source: MessageSource, progress: BatchProgress) => Promise<void>;
}

/**
 * At-least-once batch consumption with `read_committed`, with an idempotent producer of its own
 * for what the handler writes (`producer`) and for dead letters: offsets are committed only
 * after the handler finished the batch. A dependency that is down (a database) holds the
 * partition in place with backoff while heartbeats keep it assigned, so nothing is skipped and
 * the process does not crash-loop; it resumes where it stopped once the handler succeeds.
 */
export class BatchConsumer<T> {
  readonly status: ConsumerStatus;
  private readonly judge: MessageJudge<T>;
  private readonly group: SupervisedConsumer;
  private stopping = false;
  private ownProducer?: Producer;

  constructor(private readonly options: BatchConsumerOptions<T>) {
    this.status = new ConsumerStatus(options.groupId, options.metrics);
    this.judge = new MessageJudge({ ...options, status: this.status });
    this.group = new SupervisedConsumer({
      ...options,
      status: this.status,
      maxWaitTimeInMs: 500,
      run: async (consumer) => {
        for (const topic of options.topics) await consumer.subscribe({ topic, fromBeginning: true });
        // A fetch of markers only: its offsets are committed here, so the group's lag on a
        // transactional topic reaches 0. Batches of a partition are handled one after the other,
        // so everything before these markers is done.
        onBatchEnd(consumer, ({ topic, partition, next, records }) => {
          if (records > 0 || this.stopping) return;
          consumer.commitOffsets([{ topic, partition, offset: next.toString() }]).catch(() => undefined);
        });
        await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.processBatch(p) });
      },
    });
  }

  /**
   * An idempotent producer for what the handler writes (log records), connected by
   * {@link start} before the first batch and disconnected by {@link stop} after the last.
   */
  get producer(): Producer {
    if (!this.ownProducer) throw new Error('BatchConsumer.producer is available once start() has run');
    return this.ownProducer;
  }

  /** Connects its producer and starts consuming, retrying with backoff until both are up. */
  async start(): Promise<void> {
    const { groupId, topics, logger } = this.options;
    const producer = createIdempotentProducer(this.options.kafka);
    await retryWithBackoff(() => producer.connect(), {
      firstMs: 500,
      maxMs: 30_000,
      stopped: () => this.stopping,
      onFailure: (err, retryInMs) => logger.warn({ err, groupId, retryInMs }, 'producer could not connect; retrying'),
    });
    this.ownProducer = producer;
    await this.group.start();
    logger.info({ groupId, topics }, 'batch consumer started');
  }

  private async processBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const source = { topic: batch.topic, partition: batch.partition };
    const keepAlive: KeepAlive = { heartbeat, active: () => isRunning() && !isStale() && !this.stopping };
    let committed = -1n;
    /** Commits everything up to `offset` (given offsets are committed even with autoCommit off). */
    const commit = async (offset: string) => {
      if (BigInt(offset) <= committed || !keepAlive.active()) return;
      resolveOffset(offset);
      await commitOffsetsIfNecessary({
        topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(offset) + 1n).toString() }] }],
      });
      committed = BigInt(offset);
    };
    try {
      const records: DecodedMessage<T>[] = [];
      const dead: Message[] = [];
      for (const message of batch.messages) {
        const judged = await this.judge.read(message, source, keepAlive);
        if (judged.poison === undefined) records.push({ value: judged.value as T, message });
        else dead.push(this.judge.deadLetterOf(message, source, judged.poison));
      }
      await this.sendDeadLetters(dead, source, keepAlive);
      if (records.length > 0) await this.handle(records, source, keepAlive, commit);
      // The batch's last offset, transaction markers and aborted records included.
      await commit(batch.lastOffset());
    } catch (err) {
      if (err instanceof AbandonedError) return;
      throw err;
    }
    await heartbeat();
  }

  private async handle(records: DecodedMessage<T>[], source: MessageSource, keepAlive: KeepAlive, commit: (offset: string) => Promise<void>): Promise<void> {
    let rest = records;
    let finished: string | undefined;
    const progress: BatchProgress = {
      done: (offset) => {
        finished = offset;
        rest = rest.filter((r) => BigInt(r.message.offset) > BigInt(offset));
      },
      // A heartbeat refused by a rebalance ends the batch: what finished is committed, the rest is its next owner's.
      heartbeat: async () => {
        try {
          await keepAlive.heartbeat();
        } catch (err) {
          throw classify(err).rebalance ? new AbandonedError() : err;
        }
      },
    };
    const attempt = async (batch: DecodedMessage<T>[]) => {
      try {
        await this.options.handle(batch, source, progress);
      } catch (err) {
        // What finished before the failure is committed before any wait: a rebalance meanwhile loses none of it.
        if (finished !== undefined) await commit(finished).catch(() => undefined);
        throw err;
      }
    };
    try {
      await this.judge.waitOut(() => (rest.length > 0 ? attempt(rest) : undefined), { ...source, firstOffset: records[0].message.offset }, keepAlive);
      return;
    } catch (err) {
      if (err instanceof AbandonedError) throw err;
      // Poison somewhere in the rest: handled one by one, so only the message that throws it goes.
    }
    for (const record of rest) {
      const result = await this.judge.attempt(record.message, source, keepAlive, () => attempt([record]));
      if (result.poison !== undefined) await this.sendDeadLetters([this.judge.deadLetterOf(record.message, source, result.poison)], source, keepAlive);
      await commit(record.message.offset);
    }
  }

  private async sendDeadLetters(dead: Message[], source: MessageSource, keepAlive: KeepAlive): Promise<void> {
    if (dead.length === 0) return;
    await this.judge.waitOut(() => this.producer.send({ topic: this.judge.deadLetterTopic, messages: dead }), source, keepAlive);
  }

  /** The partitions this instance owns, by topic (undefined while joining). */
  assignment(): Record<string, number[]> | undefined {
    return this.group.assignment();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.group.stop();
    await this.ownProducer?.disconnect();
  }
}
