import type { Admin, Kafka, Message, Producer } from 'kafkajs';
import { TransientError, backoffDelays } from '@triggers/errors';
import type { Logger } from '@triggers/logging';
import type { MessageSource } from './dead-letters';
import { KeyedPartitioner, messageBytes } from './producers';

/** How a new owner ends what the previous owner's last transaction may have left without markers. */
type LeftoverOutcome = 'commit' | 'abort';

/** Longest a new owner waits for the markers of the commit that ended its predecessor's leftovers. */
const MARKERS_WAIT_MS = 30_000;

/**
 * Runs a step of a transaction again while the coordinator answers CONCURRENT_TRANSACTIONS: the
 * markers of the id's previous transaction are still being written (the Java client retries it
 * too). kafkajs retries it for produce requests, not for AddOffsetsToTxn.
 */
async function concurrentRetried<T>(step: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + MARKERS_WAIT_MS;
  for (const delay of backoffDelays(20, 500)) {
    try {
      return await step();
    } catch (err) {
      if ((err as { type?: string }).type !== 'CONCURRENT_TRANSACTIONS' || Date.now() + delay > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  throw new Error('unreachable');
}

/** Partitions by topic, as a transaction adds them. */
type PartitionsOfTopics = { topic: string; partitions: { partition: number }[] }[];

/** Messages to write to one topic as the result of consuming some input. */
export interface OutgoingMessages {
  topic: string;
  messages: Message[];
}

/** Where a handler puts what one message makes; kept only if the message is judged without poison. */
export interface BatchOutput {
  push(topic: string, message: Message): void;
}

/** What some input makes, in the order pushed; a mark and a rollback drop what one message pushed. */
export class OutputCollector implements BatchOutput {
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

  get size(): number {
    return this.entries.length;
  }

  /** Adds this collector's messages to the end of `other`'s, keeping its own (a commit that fails is made again with them). */
  copyInto(other: OutputCollector): void {
    for (const e of this.entries) other.entries.push(e);
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

/** Options of {@link PartitionTransactions}. */
export interface PartitionTransactionsOptions {
  kafka: Kafka;
  groupId: string;
  logger: Logger;
  /**
   * Prefix of the transactional ids. Each input partition gets its own producer,
   * `<prefix>-<topic>-<partition>`: whichever instance owns a partition uses the same id, so a
   * new owner (after a rebalance or a crash) fences the previous owner's producer and aborts its
   * open transaction at once, and partitions commit concurrently.
   */
  transactionalIdPrefix: string;
  /**
   * Every topic the consumer writes to (the dead-letter topic included). A new owner of an input
   * partition ends whatever the previous owner's transaction left open on any of them.
   */
  outputTopics: string[];
  /** Longest a transaction may stay open before the broker aborts it (kafkajs default 60 s). */
  transactionTimeoutMs?: number;
  /**
   * Most bytes (keys and values) in one produce request. One batch of input can make far more
   * output than a broker accepts in one record batch (message.max.bytes, 1 MB by default), so
   * output is sent in chunks of at most this size, all inside the same transaction.
   */
  maxRequestBytes?: number;
}

/** What a consumer engine that commits in transactions takes of {@link PartitionTransactionsOptions} (the rest is its own). */
export type EngineTransactionOptions = Pick<
  PartitionTransactionsOptions,
  'transactionalIdPrefix' | 'outputTopics' | 'transactionTimeoutMs' | 'maxRequestBytes'
>;

/**
 * Consume → produce exactly once, per input partition: what some input of a partition makes and
 * the partition's next offset are committed in one Kafka transaction of that partition's own
 * transactional producer, so either both become visible to `read_committed` readers or neither
 * does and the input is consumed again. The consumer engines (the matcher's batches, the
 * dispatcher's window) share this; it owns the producers, the fencing of a previous owner and the
 * floor below which a partition's input was committed already.
 */
export class PartitionTransactions {
  private admin?: Admin;
  private readonly producers = new Map<string, Promise<Producer>>();
  /** Per partition, offsets below this were committed already (by a previous owner, or by a commit whose answer was lost). */
  private readonly committedFloor = new Map<string, Promise<bigint>>();
  /** See {@link partitionsWritten}. */
  private written?: Promise<PartitionsOfTopics>;

  constructor(private readonly options: PartitionTransactionsOptions) {}

  async connect(): Promise<void> {
    this.admin = this.options.kafka.admin();
    await this.admin.connect();
  }

  /** A new generation of the group: floors and the output partitions are read again. */
  rejoined(): void {
    this.committedFloor.clear();
    this.written = undefined;
  }

  /**
   * The first offset of a partition not yet committed, once this instance holds the partition's
   * transactional id: connecting its producer fenced a previous owner (and waited for its
   * transaction to end), so the committed offset read after that is final. Read once per
   * generation, and again after a failed transaction.
   */
  async floor(source: MessageSource): Promise<bigint> {
    await this.producerFor(source);
    return this.floorOf(source);
  }

  /**
   * Commits `outgoing` and the partition's `nextOffset` in one transaction. `owned` is asked
   * last, before the commit: a partition taken away meanwhile belongs to another instance, which
   * reads from the last committed offset, so the transaction is aborted (false). A failure
   * aborts, drops the producer and floor (the next use opens the id again and reads the floor,
   * which may show the commit went through all the same), and throws.
   */
  async commit(source: MessageSource, outgoing: OutgoingMessages[], nextOffset: bigint, owned: () => boolean): Promise<boolean> {
    const key = `${source.topic}-${source.partition}`;
    const producer = await this.producerFor(source);
    const transaction = await producer.transaction();
    try {
      const maxBytes = this.options.maxRequestBytes ?? 512 * 1024;
      for (const out of outgoing) {
        for (const chunk of chunkBySize(out.messages, maxBytes)) await transaction.send({ topic: out.topic, messages: chunk });
      }
      const offsets = {
        consumerGroupId: this.options.groupId,
        topics: [{ topic: source.topic, partitions: [{ partition: source.partition, offset: nextOffset.toString() }] }],
      };
      await concurrentRetried(() => transaction.sendOffsets(offsets));
      if (!owned()) {
        await transaction.abort();
        // A broker stopping now may skip this abort's markers; a fresh producer next time ends
        // them as aborted (endLeftovers) instead of this one's next commit committing them.
        await this.forget(key, producer);
        return false;
      }
      await transaction.commit();
      return true;
    } catch (err) {
      // A transaction the failure already ended (kafkajs refuses to abort it) needs no abort.
      await transaction.abort().catch((abortErr: unknown) => {
        if (!/once ended/.test((abortErr as Error).message)) this.options.logger.error({ err: abortErr }, 'transaction abort failed');
      });
      // A fresh producer next time: this one may be fenced or in an unknown state. The input is
      // handled again; it may have been committed all the same (a commit whose answer was lost,
      // as in a broker restart), so the floor is read again too, after the new producer fences.
      await this.forget(key, producer);
      throw err;
    }
  }

  /** Drops a partition's producer and floor: the next use opens the transactional id again (a takeover of its own). */
  private async forget(key: string, producer: Producer): Promise<void> {
    this.producers.delete(key);
    this.committedFloor.delete(key);
    await producer.disconnect().catch(() => undefined);
  }

  /** The group's committed offset of a partition, read after fencing. */
  private floorOf({ topic, partition }: MessageSource): Promise<bigint> {
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
  private producerFor(source: MessageSource): Promise<Producer> {
    const key = `${source.topic}-${source.partition}`;
    let producer = this.producers.get(key);
    if (!producer) {
      const transactionalId = `${this.options.transactionalIdPrefix}-${key}`;
      const p = this.options.kafka.producer({
        transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: KeyedPartitioner,
        transactionTimeout: this.options.transactionTimeoutMs,
      });
      producer = (async () => {
        // Read before connecting: connecting (InitProducerId) bumps the epoch and clears it.
        const previous = await this.previousTransaction(transactionalId);
        const outcome: LeftoverOutcome = previous === 'CompleteCommit' || previous === 'PrepareCommit' ? 'commit' : 'abort';
        await p.connect();
        await this.endLeftovers(p, transactionalId, outcome);
        const floor = await this.floorOf(source);
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
   * same producer id ends them the way that marker says. A transaction on every partition this
   * consumer writes to and on the group's offsets, ended the way the coordinator ended the
   * previous one, finishes what it skipped before the floor is read: a commit makes the rest of a
   * committed transaction visible with its offsets (the floor then counts it), an abort discards
   * the rest of an aborted one (its input is read again). Aborting a commit whose offsets marker
   * was written would lose the input; aborting one whose output markers were written would commit
   * it twice. A commit's markers are written after it returns: the floor is read once they are
   * (the committed offset would not count the input yet).
   */
  private async endLeftovers(producer: Producer, transactionalId: string, outcome: LeftoverOutcome): Promise<void> {
    const written = await this.partitionsWritten();
    const transaction = await producer.transaction();
    let ended = false;
    try {
      if (written.length > 0) await transaction.addPartitions(written);
      await transaction.sendOffsets({ consumerGroupId: this.options.groupId, topics: [] });
      if (outcome === 'commit') await transaction.commit();
      else await transaction.abort();
      ended = true;
    } finally {
      if (!ended) await transaction.abort().catch(() => undefined);
    }
    // The floor is read once a commit's markers are written; the next transaction of the id waits
    // for an abort's (the coordinator refuses it with CONCURRENT_TRANSACTIONS until then).
    await this.markersWritten(transactionalId);
  }

  /** Waits until the coordinator has written (or given up) the markers of the id's last transaction. */
  private async markersWritten(transactionalId: string): Promise<void> {
    const deadline = Date.now() + MARKERS_WAIT_MS;
    for (const delay of backoffDelays(5, 200)) {
      const [described] = await this.admin!.describeTransactions([transactionalId]);
      if (described?.state !== 'PrepareCommit' && described?.state !== 'PrepareAbort') return;
      if (Date.now() + delay > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    throw new TransientError(`the markers of ${transactionalId}'s commit were not written within ${MARKERS_WAIT_MS} ms`, { dependency: 'kafka' });
  }

  /** Every partition of the output topics that exist, read once per generation (not per input partition). */
  private partitionsWritten(): Promise<PartitionsOfTopics> {
    if (!this.written) {
      const admin = this.admin!;
      const written = (async () => {
        // A topic that does not exist holds nothing to end.
        const existing = new Set(await admin.listTopics());
        const topics = [...new Set(this.options.outputTopics)].filter((t) => existing.has(t));
        if (topics.length === 0) return [];
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

  /** Disconnects every producer and the admin client. */
  async stop(): Promise<void> {
    await this.admin?.disconnect();
    const producers = [...this.producers.values()];
    this.producers.clear();
    await Promise.all(producers.map(async (p) => (await p.catch(() => undefined))?.disconnect()));
  }
}
