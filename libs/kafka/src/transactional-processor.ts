import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { classify } from '@triggers/errors';
import { ConsumerStatus } from './consumer-status';
import type { MessageSource } from './dead-letters';
import { SupervisedConsumer } from './group-consumer';
import { AbandonedError, ConsumerEngineOptions, Judged, KeepAlive, MessageJudge } from './message-judge';
import { BatchOutput, OutgoingMessages, OutputCollector, EngineTransactionOptions, PartitionTransactions } from './partition-transactions';

/** What a {@link TransactionalProcessor} calls for the batches of one partition. */
export interface TransactionalHandler<T> {
  /** Once per batch, before its first message (taking encoders, say); a transient error is waited out. */
  beginBatch?(source: MessageSource): Promise<void> | void;
  /**
   * Judges one decoded message and pushes what it makes. Whatever it throws is read by
   * `classify`: poison dead-letters this message alone (what it pushed is dropped), a transient
   * error is waited out and the message judged again.
   */
  handle(value: T, message: KafkaMessage, source: MessageSource, out: BatchOutput): void | Promise<void>;
  /** After the batch's last message, before its commit (per-batch metrics, or what it writes once per batch into `out`). */
  endBatch?(source: MessageSource, out: BatchOutput): void;
  /**
   * After the batch's transaction committed: state the handler keeps beside its output may now
   * count the batch (a batch whose transaction failed is read again, from the committed state).
   */
  committed?(source: MessageSource): void;
  /** A new generation of the group: partitions may have moved, and state kept for them with them. */
  rejoined?(assigned: Record<string, number[]>): void;
  /**
   * Once per generation for each partition assigned, as soon as this instance holds its
   * transactional id (a previous owner fenced, its open transaction ended): state the handler
   * keeps beside its output can be read now, before the partition's first batch.
   */
  partitionReady?(source: MessageSource): void;
}

/** Options of a {@link TransactionalProcessor}. */
export interface TransactionalProcessorOptions<T> extends ConsumerEngineOptions<T>, EngineTransactionOptions {
  /** Partition batches processed at once (each in its own transaction). */
  partitionsConsumedConcurrently?: number;
  handler: TransactionalHandler<T>;
  /** Where to start when the group has no committed offset. */
  fromBeginning?: boolean;
  /**
   * What a message is from its key, headers and timestamp alone, before any decoding: `skip` (not
   * this consumer's work: consumed, not decoded, not handled), a value to handle as decoded, or
   * undefined (decode it as usual). A reader of a shared topic pays for what it handles only.
   */
  prejudge?: (message: KafkaMessage) => { skip: true } | { value: T } | undefined;
  /** Longest wait of one fetch; stop() waits for the fetch in flight, so keep it short. */
  maxWaitTimeInMs?: number;
  /**
   * Bytes the broker gathers before answering a fetch (or until `maxWaitTimeInMs`): a consumer
   * that need not answer at once takes bigger batches, so fewer transactions per record.
   */
  minBytes?: number;
}

/**
 * Consume → produce exactly once. Every batch of a partition runs in one Kafka transaction that
 * holds the produced messages and the consumed offsets together: either both become visible to
 * `read_committed` readers, or neither does and the batch is consumed again. One transaction per
 * batch rather than per message keeps the commit overhead small.
 */
export class TransactionalProcessor<T> {
  readonly status: ConsumerStatus;
  private readonly judge: MessageJudge<T>;
  private readonly group: SupervisedConsumer;
  private readonly transactions: PartitionTransactions;
  private stopping = false;
  /** Per partition, the batch being processed: the next one (of any generation) waits for it. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly options: TransactionalProcessorOptions<T>) {
    const { groupId, logger, deadLetterTopic, outputTopics } = options;
    this.status = new ConsumerStatus(groupId, options.metrics);
    this.judge = new MessageJudge({ ...options, status: this.status });
    this.transactions = new PartitionTransactions({ ...options, outputTopics: deadLetterTopic ? [...outputTopics, deadLetterTopic] : outputTopics });
    this.group = new SupervisedConsumer({
      ...options,
      status: this.status,
      onJoin: (assigned) => {
        this.transactions.rejoined();
        options.handler.rejoined?.(assigned);
        if (options.handler.partitionReady) this.prepare(assigned);
        logger.info({ groupId, assigned }, 'partitions assigned');
      },
      run: async (consumer) => {
        for (const topic of options.topics) await consumer.subscribe({ topic, fromBeginning: options.fromBeginning ?? true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 3,
          eachBatch: (payload) => this.processBatch(payload),
        });
      },
    });
  }

  /** Fences each assigned partition's previous owner at once, and tells the handler (see {@link TransactionalHandler.partitionReady}). */
  private prepare(assigned: Record<string, number[]>): void {
    for (const [topic, partitions] of Object.entries(assigned))
      for (const partition of partitions) {
        const source = { topic, partition };
        this.transactions
          .floor(source)
          .then(() => this.options.handler.partitionReady!(source))
          // Its first batch does the same, and waits out what failed here.
          .catch((err: unknown) => this.options.logger.info({ ...source, err }, 'partition not prepared before its first batch'));
      }
  }

  /** Connects, subscribes and starts consuming; returns once the consumer is running. */
  async start(): Promise<void> {
    const { groupId, transactionalIdPrefix, topics, logger } = this.options;
    await this.transactions.connect();
    await this.group.start();
    logger.info({ groupId, transactionalIdPrefix, topics }, 'transactional processor started');
  }

  /**
   * One batch of a partition at a time in this process: after a rejoin, the floor must not be
   * read while this process's own previous transaction for the partition is still committing.
   */
  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const key = `${payload.batch.topic}-${payload.batch.partition}`;
    const previous = this.inFlight.get(key) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(() => this.processBatchAlone(payload));
    this.inFlight.set(key, current);
    try {
      await current;
    } finally {
      if (this.inFlight.get(key) === current) this.inFlight.delete(key);
    }
  }

  private async processBatchAlone({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const source = { topic: batch.topic, partition: batch.partition };
    // The consumer may have read its start offset before a previous owner's last transaction
    // finished committing; anything below the floor was already processed.
    const floor = await this.transactions.floor(source);
    const messages = batch.messages.filter((m) => BigInt(m.offset) >= floor);
    if (messages.length === 0) {
      resolveOffset(batch.messages[batch.messages.length - 1].offset);
      return;
    }
    const keepAlive: KeepAlive = { heartbeat, active: () => isRunning() && !isStale() && !this.stopping };
    let outgoing: OutgoingMessages[];
    try {
      outgoing = await this.judgeBatch(messages, source, keepAlive);
    } catch (err) {
      if (err instanceof AbandonedError) return;
      throw err;
    }
    const last = messages[messages.length - 1];
    let committed: boolean;
    try {
      committed = await this.transactions.commit(source, outgoing, BigInt(last.offset) + 1n, () => !isStale() && isRunning());
    } catch (err) {
      const c = classify(err);
      if (c.rebalance)
        this.options.logger.info(
          { ...source, err: c.reason, errorClass: c.errorClass },
          "rebalance: the batch's transaction was refused; its owner reads it again",
        );
      else this.options.logger.warn({ ...source, err, kind: c.kind }, 'batch transaction failed; the batch is read again');
      throw err;
    }
    if (!committed) return;
    this.options.handler.committed?.(source);
    resolveOffset(last.offset);
    await heartbeat();
  }

  /**
   * Decodes and judges every message of a batch. The loop stays synchronous for messages whose
   * schema is known and whose handler returns at once; only a registry fetch, an async handler or
   * an error costs an await.
   */
  private async judgeBatch(messages: KafkaMessage[], source: MessageSource, keepAlive: KeepAlive): Promise<OutgoingMessages[]> {
    const { handler } = this.options;
    const judge = this.judge;
    const dlq = judge.deadLetterTopic;
    if (handler.beginBatch) await judge.waitOut(() => handler.beginBatch!(source), source, keepAlive);
    const out = new OutputCollector();
    const prejudge = this.options.prejudge;
    for (const message of messages) {
      const early = prejudge?.(message);
      if (early && 'skip' in early) continue;
      const judged: Judged<T> = early ?? judge.readKnown(message, source) ?? (await judge.read(message, source, keepAlive));
      if (judged.poison !== undefined) {
        out.push(dlq, judge.deadLetterOf(message, source, judged.poison));
        continue;
      }
      const value = judged.value as T;
      const mark = out.mark();
      let poison: unknown;
      try {
        const pending = handler.handle(value, message, source, out);
        if (pending) await pending;
        continue;
      } catch (err) {
        out.rollback(mark);
        if (classify(err).kind === 'poison') poison = err;
      }
      poison ??= (
        await judge.attempt(message, source, keepAlive, () => {
          out.rollback(mark);
          return handler.handle(value, message, source, out);
        })
      ).poison;
      if (poison !== undefined) {
        out.rollback(mark);
        out.push(dlq, judge.deadLetterOf(message, source, poison));
      }
    }
    handler.endBatch?.(source, out);
    return out.byTopic();
  }

  /**
   * The partitions this instance owns, by topic, once it has joined its group (undefined while
   * joining or rebalancing). Health endpoints report it, so scaling can be observed.
   */
  assignment(): Record<string, number[]> | undefined {
    return this.group.assignment();
  }

  /** Finishes the batches in flight, then disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.group.stop();
    await this.transactions.stop();
  }
}
