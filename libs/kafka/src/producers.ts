import { ICustomPartitioner, Kafka, Message, Partitioners, Producer } from 'kafkajs';

/** Keys whose partition {@link KeyedPartitioner} remembers before it starts afresh. */
const REMEMBERED_KEYS = 50_000;

/**
 * kafkajs's default partitioner (murmur2 of the key modulo the topic's partition count, as the
 * Java client), remembering the partition of each string key per partition count. Keys repeat
 * (a trigger's commands and records, a lead's moves), and the default partitioner hashed each
 * message's key again and filtered the topic's partitions: about 5% of the matcher's CPU.
 * Messages without a string key, or with a partition, go to the default partitioner as they are.
 */
export const KeyedPartitioner: ICustomPartitioner = () => {
  const byDefault = Partitioners.DefaultPartitioner();
  const known = new Map<string, number>();
  return (args) => {
    const { key, partition } = args.message;
    if (typeof key !== 'string' || (partition !== null && partition !== undefined)) return byDefault(args);
    const count = args.partitionMetadata.length;
    const id = `${count}\u0000${key}`;
    let chosen = known.get(id);
    if (chosen === undefined) {
      chosen = byDefault(args);
      if (known.size >= REMEMBERED_KEYS) known.clear();
      known.set(id, chosen);
    }
    return chosen;
  };
};

/**
 * An idempotent producer (no duplicates from its own retries) with kafkajs's default
 * partitioning ({@link KeyedPartitioner}), as every non-transactional writer of the product uses.
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: KeyedPartitioner });
}

/**
 * An idempotent producer connected on first use, so an app starts while Kafka is still down; a
 * failed connect is tried again by the next call.
 */
export class LazyProducer {
  private connecting?: Promise<Producer>;

  constructor(private readonly kafka: Kafka) {}

  get(): Promise<Producer> {
    this.connecting ??= (async () => {
      const producer = createIdempotentProducer(this.kafka);
      await producer.connect();
      return producer;
    })().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  async disconnect(): Promise<void> {
    const producer = await this.connecting?.catch(() => undefined);
    this.connecting = undefined;
    await producer?.disconnect();
  }
}

/** Roughly how many bytes a message takes in a produce request. */
export function messageBytes(m: Message): number {
  return size(m.key) + size(m.value) + 64;
}

function size(v: Message['key'] | Message['value']): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}
