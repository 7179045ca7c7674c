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

/** Options of a {@link BufferedProducer}. */
export interface BufferedProducerOptions {
  /**
   * How long a batch waits for more messages before it is sent, like Kafka's `linger.ms`: the
   * first after a pause, and each next one while a request is under way (not when a whole
   * request's worth is already waiting).
   */
  lingerMs?: number;
  /** Largest produce request, in bytes (under the broker's 1 MB default per batch). */
  maxBatchBytes?: number;
}

/**
 * Gathers messages sent from many concurrent callers into few produce requests: kafkajs sends
 * one request per `send`, and an idempotent producer has one request in flight, so thousands of
 * single-message sends a second would queue behind each other. Each caller's promise settles
 * when the request holding its messages is acknowledged (or failed: the caller retries).
 */
export class BufferedProducer {
  private buffer: { topic: string; messages: Message[]; bytes: number; resolve: () => void; reject: (err: unknown) => void }[] = [];
  /** What the buffer holds, in {@link messageBytes}. */
  private bufferedBytes = 0;
  private flushing = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly producer: Producer,
    private readonly options: BufferedProducerOptions = {},
  ) {}

  /** Sends messages to topics as part of the next batch. */
  send(topicMessages: { topic: string; messages: Message[] }[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const parts = topicMessages.filter((t) => t.messages.length > 0);
      if (parts.length === 0) return resolve();
      let left = parts.length;
      let failed = false;
      for (const part of parts) {
        const bytes = part.messages.reduce((n, m) => n + messageBytes(m), 0);
        this.bufferedBytes += bytes;
        this.buffer.push({
          ...part,
          bytes,
          resolve: () => --left === 0 && !failed && resolve(),
          reject: (err) => {
            if (!failed) reject(err);
            failed = true;
          },
        });
      }
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.options.lingerMs ?? 2);
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    const maxBytes = this.options.maxBatchBytes ?? 512 * 1024;
    try {
      for (let first = true; this.buffer.length > 0; first = false) {
        // Messages that came during the last request wait for more, as the first of a batch did:
        // at a few thousand a second, sending each gathering at once made five times the requests,
        // and a broker spends far more per request than per message.
        if (!first && this.bufferedBytes < maxBytes) await new Promise((resolve) => setTimeout(resolve, this.options.lingerMs ?? 2));
        let bytes = 0;
        let count = 0;
        while (count < this.buffer.length && (count === 0 || bytes < maxBytes)) {
          bytes += this.buffer[count].bytes;
          count++;
        }
        const parts = this.buffer.splice(0, count);
        this.bufferedBytes -= bytes;
        const byTopic = new Map<string, Message[]>();
        for (const p of parts) {
          const list = byTopic.get(p.topic);
          if (list) list.push(...p.messages);
          else byTopic.set(p.topic, [...p.messages]);
        }
        try {
          await this.producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
          for (const p of parts) p.resolve();
        } catch (err) {
          for (const p of parts) p.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
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
