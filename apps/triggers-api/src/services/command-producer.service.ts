import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Kafka, Partitioners, Producer } from 'kafkajs';
import type { ApiConfig } from '@triggers/config';
import { SCHEMAS, WebhookCommand } from '@triggers/contracts';
import type { AvroSerde } from '@triggers/kafka';
import { APP_CONFIG, AVRO_SERDE, KAFKA } from '@triggers/runtime';

/** Sends webhook commands the API itself makes: test sends and manual redeliveries. */
@Injectable()
export class CommandProducer implements OnApplicationShutdown {
  private producer?: Promise<Producer>;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(AVRO_SERDE) private readonly serde: AvroSerde,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
  ) {
  }

  private connect(): Promise<Producer> {
    this.producer ??= (async () => {
      const p = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      await p.connect();
      return p;
    })().catch((err: unknown) => {
      this.producer = undefined;
      throw err;
    });
    return this.producer;
  }

  /** Sends commands to the webhook command topic, keyed by tenant and trigger. */
  async send(commands: WebhookCommand[]): Promise<void> {
    if (commands.length === 0) return;
    const topic = this.config.kafka.topics.webhookCommands;
    const messages = await Promise.all(
      commands.map(async (c) => ({
        key: `${c.tenantId}/${c.triggerId}`,
        value: await this.serde.encode(topic, SCHEMAS.webhookCommand, c),
        headers: { origin: c.origin },
      })),
    );
    await (await this.connect()).send({ topic, messages });
  }

  async onApplicationShutdown(): Promise<void> {
    await (await this.producer?.catch(() => undefined))?.disconnect();
  }
}
