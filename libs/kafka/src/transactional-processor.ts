import { Partitioners } from 'kafkajs';
import { GroupConsumer, createGroupConsumer } from './group-consumer';
import { messageBytes } from './producers';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Logger } from '@triggers/logging';

/** Messages to write to one topic as the result of a batch. */
export interface OutgoingMessages {
  topic: string;
  messages: Message[];
}

/** What a {@link TransactionalProcessor} calls for every batch of one partition. */
export type BatchTransform = (
  messages: KafkaMessage[],
  source: { topic: string; partition: number },
) => Promise<OutgoingMessages[]>;

/** Options of a {@link TransactionalProcessor}. */
export interface TransactionalProcessorOptions {
  kafka: Kafka;
  groupId: string;
  /**
   * Prefix of the transactional ids. Each input partition gets its own producer,
   * `<prefix>-<topic>-<partition>`: whichever instance owns a partition uses the same id, so a
   * new owner (after a rebalance or a crash) fences the previous owner's producer and aborts its
   * open transaction at once, and partitions commit concurrently.
   */
  transactionalIdPrefix: string;
  /** Partition batches processed at once (each in its own transaction). */
  partitionsConsumedConcurrently?: number;
  topics: string[];
  transform: BatchTransform;
  logger: Logger;
  /** Where to start when the group has no committed offset. */
  fromBeginning?: boolean;
  /** Longest wait of one fetch; stop() waits for the fetch in flight, so keep it short. */
  maxWaitTimeInMs?: number;
  /** How long this consumer may go silent before the group moves its partitions (kafkajs default 30 s). */
  sessionTimeoutMs?: number;
  /** Longest a transaction may stay open before the broker aborts it (kafkajs default 60 s). */
  transactionTimeoutMs?: number;
  /**
   * Most bytes (keys and values) in one produce request. One batch of input can make far more
   * output than a broker accepts in one record batch (message.max.bytes, 1 MB by default), so
   * output is sent in chunks of at most this size, all inside the same transaction.
   */
  maxRequestBytes?: number;
}

/** Splits messages into runs whose keys and values add up to at most `maxBytes` (one oversized message stands alone). */
export function chunkBySize(messages: Message[], maxBytes: number): Message[][] {
  const chunks: Message[][] = [];
  let current: Message[] = [];
  let size = 0;
  for (const m of messages) {
    const bytes = messageBytes(m);
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(m);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * Consume → produce exactly once. Every batch of a partition runs in one Kafka transaction that
 * holds the produced messages and the consumed offsets together: either both become visible to
 * `read_committed` readers, or neither does and the batch is consumed again. One transaction per
 * batch rather than per message keeps the commit overhead small.
 */
export class TransactionalProcessor {
  private consumer?: Consumer;
  private group?: GroupConsumer;
  private admin?: Admin;
  private readonly producers = new Map<string, Promise<Producer>>();
  /** Per partition owned in this generation: offsets below this were committed by a previous owner. */
  private readonly committedFloor = new Map<string, Promise<bigint>>();
  /** Per partition, the batch being processed: the next one (of any generation) waits for it. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly options: TransactionalProcessorOptions) {}

  /** Connects, subscribes and starts consuming; returns once the consumer is running. */
  async start(): Promise<void> {
    const { kafka, groupId, transactionalIdPrefix, topics, logger } = this.options;
    this.group = createGroupConsumer(kafka, {
      groupId,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      maxWaitTimeInMs: this.options.maxWaitTimeInMs,
      onJoin: (assigned) => {
        this.committedFloor.clear();
        logger.info({ groupId, assigned }, 'partitions assigned');
      },
    });
    this.consumer = this.group.consumer;
    this.admin = kafka.admin();
    await this.admin.connect();
    await this.consumer.connect();
    for (const topic of topics) {
      await this.consumer.subscribe({ topic, fromBeginning: this.options.fromBeginning ?? true });
    }
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      eachBatch: (payload) => this.processBatch(payload),
    });
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
    const producer = await this.producerFor(batch.topic, batch.partition);
    // The consumer may have read its start offset before a previous owner's last transaction
    // finished committing. Connecting the partition's producer fenced that owner (and waited for
    // its transaction to end); the committed offset read after that is final, and anything below
    // it was already processed.
    const floor = await this.floorOf(batch.topic, batch.partition);
    const messages = batch.messages.filter((m) => BigInt(m.offset) >= floor);
    if (messages.length === 0) {
      resolveOffset(batch.messages[batch.messages.length - 1].offset);
      return;
    }
    const outgoing = await this.options.transform(messages, { topic: batch.topic, partition: batch.partition });
    const transaction = await producer.transaction();
    try {
      const maxBytes = this.options.maxRequestBytes ?? 512 * 1024;
      for (const out of outgoing) {
        for (const chunk of chunkBySize(out.messages, maxBytes)) await transaction.send({ topic: out.topic, messages: chunk });
      }
      const last = messages[messages.length - 1];
      await transaction.sendOffsets({
        consumerGroupId: this.options.groupId,
        topics: [
          {
            topic: batch.topic,
            partitions: [{ partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }],
          },
        ],
      });
      // A partition taken away by a rebalance while this batch ran now belongs to another
      // instance, which reads from the last committed offset: committing here would duplicate.
      if (isStale() || !isRunning()) {
        await transaction.abort();
        return;
      }
      await transaction.commit();
      resolveOffset(last.offset);
      await heartbeat();
    } catch (err) {
      await transaction.abort().catch((abortErr: unknown) =>
        this.options.logger.error({ err: abortErr }, 'transaction abort failed'),
      );
      throw err;
    }
  }

  /**
   * The partitions this instance owns, by topic, once it has joined its group (undefined while
   * joining or rebalancing). Health endpoints report it, so scaling can be observed.
   */
  assignment(): Record<string, number[]> | undefined {
    return this.group?.assignment();
  }

  /** The group's committed offset of a partition, read once per generation after fencing. */
  private floorOf(topic: string, partition: number): Promise<bigint> {
    const key = `${topic}-${partition}`;
    let floor = this.committedFloor.get(key);
    if (!floor) {
      floor = this.admin!.fetchOffsets({ groupId: this.options.groupId, topics: [topic] }).then(([t]) => {
        const offset = t.partitions.find((p) => p.partition === partition)?.offset ?? '-1';
        return BigInt(offset) < 0n ? 0n : BigInt(offset);
      });
      floor.catch(() => this.committedFloor.delete(key));
      this.committedFloor.set(key, floor);
    }
    return floor;
  }

  /** The transactional producer of one input partition, connected on first use. */
  private producerFor(topic: string, partition: number): Promise<Producer> {
    const key = `${topic}-${partition}`;
    let producer = this.producers.get(key);
    if (!producer) {
      const p = this.options.kafka.producer({
        transactionalId: `${this.options.transactionalIdPrefix}-${key}`,
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        transactionTimeout: this.options.transactionTimeoutMs,
      });
      // An empty transaction initialises the transactional id (kafkajs does it lazily): that is
      // the moment the broker fences the previous owner and ends its open transaction.
      producer = p.connect().then(async () => {
        await (await p.transaction()).abort();
        return p;
      });
      producer.catch(() => this.producers.delete(key));
      this.producers.set(key, producer);
    }
    return producer;
  }

  /** Finishes the batches in flight, then disconnects. */
  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    await this.admin?.disconnect();
    const producers = [...this.producers.values()];
    this.producers.clear();
    await Promise.all(producers.map(async (p) => (await p.catch(() => undefined))?.disconnect()));
  }
}
