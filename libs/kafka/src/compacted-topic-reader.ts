import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { Logger } from '@triggers/logging';

/** Options of a {@link CompactedTopicReader}. */
export interface CompactedTopicReaderOptions {
  kafka: Kafka;
  topic: string;
  /** Prefix of the throwaway group id (a random suffix is added). */
  groupIdPrefix: string;
  /** Applies one record in offset order; a null value is a tombstone. */
  apply: (key: string, value: Buffer | null, offset: string) => Promise<void>;
  /** Told once the topic is read to its start-up end: what was loaded, and how long it took. */
  logger?: Logger;
  /** What was loaded, for that log line (e.g. `{ triggers: 10000 }`). */
  summary?: () => object;
}

/**
 * Reads a whole compacted topic into memory and follows it: every instance reads every
 * partition from the beginning in a throwaway group of its own (no committed offsets).
 * `start` resolves once the records the topic held when it was called are applied;
 * `syncToEnd` does the same later, for a reader that must not act on a stale view.
 */
export class CompactedTopicReader {
  private consumer?: Consumer;
  private admin?: Admin;
  /** Next offset to apply, by partition. */
  private readonly positions = new Map<number, bigint>();
  private waiters: { ends: Map<number, bigint>; resolve: () => void }[] = [];

  constructor(private readonly options: CompactedTopicReaderOptions) {}

  async start(): Promise<void> {
    const { kafka, topic } = this.options;
    const started = Date.now();
    this.admin = kafka.admin();
    await this.admin.connect();
    const caughtUp = this.syncToEnd();
    this.consumer = kafka.consumer({ groupId: `${this.options.groupIdPrefix}-${randomUUID()}`, maxWaitTimeInMs: 200 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) await this.options.apply(m.key?.toString() ?? '', m.value, m.offset);
        this.positions.set(batch.partition, BigInt(batch.lastOffset()) + 1n);
        this.release();
      },
    });
    await caughtUp;
    this.options.logger?.info({ topic, ...this.options.summary?.(), ms: Date.now() - started }, 'compacted topic read to its end');
  }

  /** Resolves once everything on the topic at the time of the call has been applied. */
  async syncToEnd(): Promise<void> {
    const ends = await this.admin!.fetchTopicOffsets(this.options.topic);
    const target = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
    await new Promise<void>((resolve) => {
      this.waiters.push({ ends: target, resolve });
      this.release();
    });
  }

  private release(): void {
    this.waiters = this.waiters.filter((w) => {
      for (const [partition, end] of w.ends) if ((this.positions.get(partition) ?? 0n) < end) return true;
      w.resolve();
      return false;
    });
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.disconnect();
    await this.admin?.disconnect();
    this.admin = undefined;
  }
}
