import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { ApiConfig } from '@triggers/config';
import { WebhookCommand, triggerKey } from '@triggers/contracts';
import { AvroSerde, LazyProducer } from '@triggers/kafka';
import { APP_CONFIG, AVRO_SERDE, KAFKA } from '@triggers/runtime';

/** Sends webhook commands the API itself makes: test sends and manual redeliveries. */
@Injectable()
export class CommandProducer implements OnApplicationShutdown {
  private readonly producer: LazyProducer;

  constructor(
    @Inject(KAFKA) kafka: Kafka,
    @Inject(AVRO_SERDE) private readonly serde: AvroSerde,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
  ) {
    this.producer = new LazyProducer(kafka);
  }

  /** Sends commands to the webhook command topic, keyed by tenant and trigger. */
  async send(commands: WebhookCommand[]): Promise<void> {
    if (commands.length === 0) return;
    const topic = this.config.kafka.topics.webhookCommands;
    const messages = await Promise.all(
      commands.map(async (c) => ({
        key: triggerKey(c.tenantId, c.triggerId),
        value: await this.serde.encode('webhookCommands', c),
        headers: { origin: c.origin },
      })),
    );
    await (await this.producer.get()).send({ topic, messages });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producer.disconnect();
  }
}
