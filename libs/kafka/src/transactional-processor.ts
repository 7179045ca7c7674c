import type { Admin, EachBatchPayload, KafkaMessage, Message, Producer } from 'kafkajs';
import { TransientError, backoffDelays, classify } from '@triggers/errors';
import { ConsumerStatus } from './consumer-status';
import type { MessageSource } from './dead-letters';
import { SupervisedConsumer } from './group-consumer';
import { AbandonedError, ConsumerEngineOptions, KeepAlive, MessageJudge } from './message-judge';
import { KeyedPartitioner, messageBytes } from './producers';

/** How a new owner ends what the previous owner's last transaction may have left without markers. */
type LeftoverOutcome = 'commit' | 'abort';

/** Longest a new owner waits for the markers of the commit that ended its predecessor's leftovers. */
const MARKERS_WAIT_MS = 30_000;

/** Partitions by topic, as a transaction adds them. */
type PartitionsOfTopics = { topic: string; partitions: { partition: number }[] }[];

/** Messages to write to one topic as the result of a batch. */
export interface OutgoingMessages {
  topic: string;
  messages: Message[];
}

/** Where a handler puts what one message makes; kept only if the message is judged without poison. */
export interface BatchOutput {
  push(topic: string, message: Message): void;
}

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
  /** After the batch's last message, before its commit (per-batch metrics). */
  endBatch?(source: MessageSource): void;
}

/** What a batch makes, in the order pushed; a mark and a rollback drop what one message pushed. */
class BatchCollector implements BatchOutput {
  private readonly entries: { topic: string; message: Message }[] = [];

  push(topic: string, message: Message): void {
    this.entries.push({ topic, message });
  }

  mark(): number {
    return this.entries.length;
  }

  rollback(mark: number): void {
    this.entries.length = mark;
  }

  byTopic(): OutgoingMessages[] {
    const topics = new Map<string, Message[]>();
    for (const { topic, message } of this.entries) {
      let list = topics.get(topic);
      if (!list) topics.set(topic, (list = []));
      list.push(message);
    }
    return [...topics].map(([topic, messages]) => ({ topic, messages }));
  }
}

/** Options of a {@link TransactionalProcessor}. */
export interface TransactionalProcessorOptions<T> extends ConsumerEngineOptions<T> {
  /**
   * Prefix of the transactional ids. Each input partition gets its own producer,
   * `<prefix>-<topic>-<partition>`: whichever instance owns a partition uses the same id, so a
   * new owner (after a rebalance or a crash) fences the previous owner's producer and aborts its
   * open transaction at once, and partitions commit concurrently.
   */
  transactionalIdPrefix: string;
  /**
   * Every topic the handler writes to (the dead-letter topic is added). A new owner of an input
   * partition ends whatever the previous owner's transaction left open on any of them.
   */
  outputTopics: string[];
  /** Partition batches processed at once (each in its own transaction). */
  partitionsConsumedConcurrently?: number;
  handler: TransactionalHandler<T>;
  /** Where to start when the group has no committed offset. */
  fromBeginning?: boolean;
  /** Longest wait of one fetch; stop() waits for the fetch in flight, so keep it short. */
  maxWaitTimeInMs?: number;
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
export class TransactionalProcessor<T> {
  readonly status: ConsumerStatus;
  private readonly judge: MessageJudge<T>;
  private readonly group: SupervisedConsumer;
  private stopping = false;
  private admin?: Admin;
  private readonly producers = new Map<string, Promise<Producer>>();
  /** Per partition, offsets below this were committed already (by a previous owner, or by a commit whose answer was lost). */
  private readonly committedFloor = new Map<string, Promise<bigint>>();
  /** Per partition, the batch being processed: the next one (of any generation) waits for it. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** See {@link partitionsWritten}. */
  private written?: Promise<PartitionsOfTopics>;

  constructor(private readonly options: TransactionalProcessorOptions<T>) {
    const { groupId, logger } = options;
    this.status = new ConsumerStatus(groupId, options.metrics);
    this.judge = new MessageJudge({ ...options, status: this.status });
    this.group = new SupervisedConsumer({
      ...options,
      status: this.status,
      onJoin: (assigned) => {
        this.committedFloor.clear();
        this.written = undefined;
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

  /** Connects, subscribes and starts consuming; returns once the consumer is running. */
  async start(): Promise<void> {
    const { kafka, groupId, transactionalIdPrefix, topics, logger } = this.options;
    this.admin = kafka.admin();
    await this.admin.connect();
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
    const key = `${batch.topic}-${batch.partition}`;
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
    const source = { topic: batch.topic, partition: batch.partition };
    const keepAlive: KeepAlive = { heartbeat, active: () => isRunning() && !isStale() && !this.stopping };
    let outgoing: OutgoingMessages[];
    try {
      outgoing = await this.judgeBatch(messages, source, keepAlive);
    } catch (err) {
      if (err instanceof AbandonedError) return;
      throw err;
    }
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
        // A broker stopping now may skip this abort's markers; a fresh producer next time ends
        // them as aborted (endLeftovers) instead of this one's next commit committing them.
        await this.forget(key, producer);
        return;
      }
      await transaction.commit();
      resolveOffset(last.offset);
      await heartbeat();
    } catch (err) {
      await transaction.abort().catch((abortErr: unknown) => this.options.logger.error({ err: abortErr }, 'transaction abort failed'));
      // A fresh producer next time: this one may be fenced or in an unknown state. The batch is
      // read again; it may have been committed all the same (a commit whose answer was lost, as
      // in a broker restart), so the floor is read again too, after the new producer fences.
      await this.forget(key, producer);
      this.options.logger.warn({ ...source, err, kind: classify(err).kind }, 'batch transaction failed; the batch is read again');
      throw err;
    }
  }

  /** Drops a partition's producer and floor: the next batch opens the transactional id again (a takeover of its own). */
  private async forget(key: string, producer: Producer): Promise<void> {
    this.producers.delete(key);
    this.committedFloor.delete(key);
    await producer.disconnect().catch(() => undefined);
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
    const out = new BatchCollector();
    for (const message of messages) {
      const judged = judge.readKnown(message, source) ?? (await judge.read(message, source, keepAlive));
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
    handler.endBatch?.(source);
    return out.byTopic();
  }

  /**
   * The partitions this instance owns, by topic, once it has joined its group (undefined while
   * joining or rebalancing). Health endpoints report it, so scaling can be observed.
   */
  assignment(): Record<string, number[]> | undefined {
    return this.group.assignment();
  }

  /** The group's committed offset of a partition, read after fencing: once per generation, and again after a failed transaction. */
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
        createPartitioner: KeyedPartitioner,
        transactionTimeout: this.options.transactionTimeoutMs,
      });
      producer = (async () => {
        // Read before connecting: connecting (InitProducerId) bumps the epoch and clears it.
        const transactionalId = `${this.options.transactionalIdPrefix}-${key}`;
        const previous = await this.previousTransaction(transactionalId);
        const outcome: LeftoverOutcome = previous === 'CompleteCommit' || previous === 'PrepareCommit' ? 'commit' : 'abort';
        await p.connect();
        await this.endLeftovers(p, transactionalId, outcome);
        const floor = await this.floorOf(topic, partition);
        this.options.logger.debug(
          { transactionalId, previous, ended: outcome, floor: floor.toString() },
          'partition producer opened: what its previous transaction left is ended as that transaction was',
        );
        return p;
      })();
      producer.catch(() => this.producers.delete(key));
      this.producers.set(key, producer);
    }
    return producer;
  }

  /**
   * How the coordinator recorded this transactional id's last transaction (null for an id it does
   * not know). A commit, or one it is still completing, is ended as a commit; anything else (an
   * abort, one still open, which connecting aborts, an id already reopened) as an abort.
   */
  private async previousTransaction(transactionalId: string): Promise<string | null> {
    const [described] = await this.admin!.describeTransactions([transactionalId]);
    return described?.state ?? null;
  }

  /**
   * Opens the partition's transactional id (kafkajs does it lazily, with the first transaction):
   * the broker fences the previous owner and waits for its open transaction to end. That is not
   * enough. Ending a transaction, a broker skips the markers of the partitions that have no leader
   * at that moment and records it as ended all the same. A lone broker in controlled shutdown
   * loses every leadership in one step, and a commit whose markers are being written then has them
   * taken on some partitions (the group's offsets, through the group coordinator) and refused and
   * skipped on others: no marker, the offsets' alone, the outputs' alone or some outputs'. The
   * records and the offset commit left without a marker stay pending, and the next marker of the
   * same producer id ends them the way that marker says. A transaction on every partition this processor writes to and on the group's
   * offsets, ended the way the coordinator ended the previous one, finishes what it skipped before
   * the floor is read: a commit makes the rest of a committed batch visible with its offsets (the
   * floor then counts it), an abort discards the rest of an aborted one (it is read again).
   * Aborting a commit whose offsets marker was written would lose the batch; aborting one whose
   * output markers were written would commit it twice. A commit's markers are written after it
   * returns: the floor is read once they are (the committed offset would not count the batch yet).
   */
  private async endLeftovers(producer: Producer, transactionalId: string, outcome: LeftoverOutcome): Promise<void> {
    const written = await this.partitionsWritten();
    const transaction = await producer.transaction();
    let ended = false;
    try {
      await transaction.addPartitions(written);
      await transaction.sendOffsets({ consumerGroupId: this.options.groupId, topics: [] });
      if (outcome === 'commit') await transaction.commit();
      else await transaction.abort();
      ended = true;
    } finally {
      if (!ended) await transaction.abort().catch(() => undefined);
    }
    if (outcome === 'commit') await this.markersWritten(transactionalId);
  }

  /** Waits until the coordinator has written (or given up) the markers of the id's last commit. */
  private async markersWritten(transactionalId: string): Promise<void> {
    const deadline = Date.now() + MARKERS_WAIT_MS;
    for (const delay of backoffDelays(5, 200)) {
      const [described] = await this.admin!.describeTransactions([transactionalId]);
      if (described?.state !== 'PrepareCommit') return;
      if (Date.now() + delay > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    throw new TransientError(`the markers of ${transactionalId}'s commit were not written within ${MARKERS_WAIT_MS} ms`, { dependency: 'kafka' });
  }

  /** Every partition of the output and dead-letter topics that exist, read once per generation (not per input partition). */
  private partitionsWritten(): Promise<PartitionsOfTopics> {
    if (!this.written) {
      const { outputTopics, deadLetterTopic } = this.options;
      const admin = this.admin!;
      const written = (async () => {
        // A topic that does not exist holds nothing to end.
        const existing = new Set(await admin.listTopics());
        const topics = [...new Set(deadLetterTopic ? [...outputTopics, deadLetterTopic] : outputTopics)].filter((t) => existing.has(t));
        const metadata = await admin.fetchTopicMetadata({ topics });
        return metadata.topics.map(({ name, partitions }) => ({ topic: name, partitions: partitions.map(({ partitionId }) => ({ partition: partitionId })) }));
      })();
      written.catch(() => {
        if (this.written === written) this.written = undefined;
      });
      this.written = written;
    }
    return this.written;
  }

  /** Finishes the batches in flight, then disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.group.stop();
    await this.admin?.disconnect();
    const producers = [...this.producers.values()];
    this.producers.clear();
    await Promise.all(producers.map(async (p) => (await p.catch(() => undefined))?.disconnect()));
  }
}
