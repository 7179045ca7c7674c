import type { RecordTopicKey } from '@triggers/contracts';
import { randomUUID } from 'node:crypto';
import type { Admin, IHeaders, Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Logger } from '@triggers/logging';
import type { AvroSerde } from './avro-serde';
import { ConsumerStatus } from './consumer-status';
import { SupervisedConsumer } from './group-consumer';
import { AbandonedError, KeepAlive, MessageJudge } from './message-judge';

/** Options of a {@link CompactedTopicReader}. */
export interface CompactedTopicReaderOptions<T> {
  kafka: Kafka;
  topic: string;
  /** Prefix of the throwaway group id (a random suffix is added). */
  groupIdPrefix: string;
  serde: AvroSerde;
  /** Whose records the values must be (the topic key, or the key of a topic it copies). */
  records: RecordTopicKey;
  /** Applies one record in offset order; a null value is a tombstone. */
  apply: (key: string, value: T | null, offset: string, headers: IHeaders) => void;
  /**
   * A record that is itself bad (it does not decode, or is not the expected record): what it
   * means is the app's call. Never called because a dependency was down: such a record waits.
   */
  poison: (key: string, offset: string, err: unknown) => void;
  /** Told once the topic is read to its start-up end: what was loaded, and how long it took. */
  logger: Logger;
  /** What was loaded, for that log line (e.g. `{ triggers: 10000 }`). */
  summary?: () => object;
  metrics?: Registry;
}

/**
 * Reads a whole compacted topic into memory and follows it: every instance reads every
 * partition from the beginning in a throwaway group of its own (no committed offsets).
 * `start` resolves once the records the topic held when it was called are applied;
 * `syncToEnd` does the same later, for a reader that must not act on a stale view.
 * A record that cannot be decoded because the registry is down waits in place (the reader does
 * not move past it); a consumer that stops is restarted and reads the topic again from the start.
 */
export class CompactedTopicReader<T> {
  readonly status: ConsumerStatus;
  private readonly judge: MessageJudge<T>;
  private group?: SupervisedConsumer;
  private admin?: Admin;
  private stopping = false;
  /** Next offset to apply, by partition. */
  private readonly positions = new Map<number, bigint>();
  private waiters: { ends: Map<number, bigint>; resolve: () => void }[] = [];

  constructor(private readonly options: CompactedTopicReaderOptions<T>) {
    const groupId = `${options.groupIdPrefix}-${randomUUID()}`;
    this.status = new ConsumerStatus(groupId, options.metrics);
    this.judge = new MessageJudge<T>({ serde: options.serde, records: options.records, logger: options.logger, status: this.status });
    this.group = new SupervisedConsumer({
      kafka: options.kafka,
      groupId,
      logger: options.logger,
      status: this.status,
      maxWaitTimeInMs: 200,
      run: async (consumer) => {
        await consumer.subscribe({ topic: options.topic, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
            const keepAlive: KeepAlive = { heartbeat, active: () => isRunning() && !isStale() && !this.stopping };
            try {
              for (const m of batch.messages) {
                const key = m.key?.toString() ?? '';
                if (m.value === null) {
                  options.apply(key, null, m.offset, m.headers ?? {});
                  continue;
                }
                const judged = await this.judge.read(m, { topic: batch.topic, partition: batch.partition }, keepAlive);
                if (judged.poison === undefined) options.apply(key, judged.value as T, m.offset, m.headers ?? {});
                else options.poison(key, m.offset, judged.poison);
              }
            } catch (err) {
              if (err instanceof AbandonedError) return;
              throw err;
            }
            this.positions.set(batch.partition, BigInt(batch.lastOffset()) + 1n);
            this.release();
          },
        });
      },
    });
  }

  async start(): Promise<void> {
    const { kafka, topic, logger } = this.options;
    const started = Date.now();
    this.admin = kafka.admin();
    await this.admin.connect();
    const caughtUp = this.syncToEnd();
    // Awaited below, once the group has started; handled now, so a refusal meanwhile (a partition
    // without its leader while a broker restarts) never goes unhandled and ends the process.
    caughtUp.catch(() => undefined);
    await this.group!.start();
    await caughtUp;
    logger.info({ topic, ...this.options.summary?.(), ms: Date.now() - started }, 'compacted topic read to its end');
  }

  /** The partitions this reader owns (all of them, once joined). */
  assignment(): Record<string, number[]> | undefined {
    return this.group?.assignment();
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
    this.stopping = true;
    const group = this.group;
    this.group = undefined;
    await group?.stop();
    await this.admin?.disconnect();
    this.admin = undefined;
  }
}
