import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { onBatchEnd } from './group-consumer';

/** Which part of a topic {@link readTopicRange} reads. */
export interface TopicRange {
  /** First message time (inclusive); the beginning of the topic when absent. */
  from?: Date;
  /** Last message time (inclusive); the end of the topic at start when absent. */
  to?: Date;
  /** Keep reading what arrives after the end, until `signal` aborts. */
  follow?: boolean;
  /** Start at this offset in every partition read (instead of `from`). */
  startAt?: bigint;
  /** Only these partitions (all when absent). */
  partitions?: number[];
  signal?: AbortSignal;
}

/** A partition's bounds as read at start: `start` ≤ offsets < `end`. */
export interface PartitionBounds {
  partition: number;
  start: bigint;
  end: bigint;
}

/** Where each partition of `topic` starts and ends for `range`, read once. */
export async function topicBounds(kafka: Kafka, topic: string, range: Pick<TopicRange, 'from' | 'startAt' | 'partitions'>): Promise<PartitionBounds[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const starts = range.from ? await admin.fetchTopicOffsetsByTimestamp(topic, range.from.getTime()) : undefined;
    return offsets
      .filter((o) => !range.partitions || range.partitions.includes(o.partition))
      .map((o) => {
        const low = BigInt(o.low);
        const fromTime = starts?.find((s) => s.partition === o.partition)?.offset;
        // A partition with nothing at or after `from` answers -1 (or its end).
        const start =
          range.startAt !== undefined ? range.startAt : fromTime === undefined || BigInt(fromTime) < 0n ? (starts ? BigInt(o.high) : low) : BigInt(fromTime);
        return { partition: o.partition, start: start < low ? low : start, end: BigInt(o.high) };
      })
      .sort((a, b) => a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads a time range of a topic, committed messages only, in offset order per partition, without
 * a consumer group of its own making any commit (tools read; they never move the apps' offsets).
 * Without `follow` it returns once every partition reached the end it had at start (or a message
 * after `to`); with it, once `signal` aborts. Returns the number of messages passed to `each`.
 */
export async function readTopicRange(
  kafka: Kafka,
  topic: string,
  range: TopicRange,
  each: (message: KafkaMessage, partition: number) => void | Promise<void>,
): Promise<number> {
  const bounds = await topicBounds(kafka, topic, range);
  const ends = new Map(bounds.filter((b) => range.follow || b.start < b.end).map((b) => [b.partition, b.end]));
  if (ends.size === 0) return 0;
  const to = range.to?.getTime();
  let seen = 0;
  const consumer = kafka.consumer({ groupId: `triggers-tools-${randomUUID()}`, maxWaitTimeInMs: 250, allowAutoTopicCreation: false });
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => ((finish = resolve), (fail = reject)));
  const reached = (partition: number, next: bigint) => {
    const end = ends.get(partition);
    if (!range.follow && end !== undefined && next >= end) ends.delete(partition);
    if (!range.follow && ends.size === 0) finish();
  };
  const onAbort = () => finish();
  range.signal?.addEventListener('abort', onAbort);
  if (range.signal?.aborted) finish();
  onBatchEnd(consumer, ({ partition, next }) => reached(partition, next));
  consumer.on(consumer.events.CRASH, ({ payload }) => fail(payload.error));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, isRunning }) => {
        const end = ends.get(batch.partition);
        if (end === undefined) return;
        for (const message of batch.messages) {
          if (!isRunning() || !ends.has(batch.partition)) return;
          const offset = BigInt(message.offset);
          if (!range.follow && offset >= end) return reached(batch.partition, end);
          if (to !== undefined && Number(message.timestamp) > to) {
            if (range.follow) continue;
            return reached(batch.partition, end);
          }
          seen++;
          await each(message, batch.partition);
        }
      },
    });
    for (const b of bounds) if (ends.has(b.partition)) consumer.seek({ topic, partition: b.partition, offset: b.start.toString() });
    await finished;
  } finally {
    range.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect();
  }
  return seen;
}
