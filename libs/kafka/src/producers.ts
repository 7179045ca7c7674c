import { Kafka, Partitioners, Producer } from 'kafkajs';

/**
 * An idempotent producer (no duplicates from its own retries) with kafkajs's default
 * partitioner chosen explicitly, as every non-transactional writer of the product uses.
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
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
