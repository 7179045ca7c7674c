import { DynamicModule, Global, Module, OnApplicationShutdown, Inject } from '@nestjs/common';
import { Registry, collectDefaultMetrics, Gauge } from 'prom-client';
import type { BaseConfig } from '@triggers/config';
import { AvroSerde, createKafka, createRegistry } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
// Types only: the MongoDB driver is loaded by the apps that connect (it holds 20 MB the others never use).
import type { MongoHandle } from '@triggers/mongo';
import { HealthRegistry, kafkaHealthCheck, mongoHealthCheck, registryHealthCheck } from './health-checks';
import { AppRuntime } from './app-runtime';
import { OpsController } from './ops.controller';
import { APP_CONFIG, APP_LOGGER, AVRO_SERDE, HEALTH_CHECKS, KAFKA, METRICS_REGISTRY, MONGO } from './tokens';
import type { Kafka } from 'kafkajs';

/** What {@link RuntimeModule.forApp} wires. */
export interface RuntimeOptions {
  config: BaseConfig;
  logger: Logger;
  /** Connect to MongoDB (apps that store or read documents). */
  mongo?: boolean;
}

/** Closes the MongoDB client when the app shuts down. */
class MongoCloser implements OnApplicationShutdown {
  constructor(@Inject(MONGO) private readonly mongo: MongoHandle) {}
  async onApplicationShutdown(): Promise<void> {
    await this.mongo.client.close();
  }
}

/**
 * The parts every app shares, as one global Nest module: config, logger, the Kafka client, the
 * Avro serde, an optional MongoDB connection, the Prometheus registry and the /healthz + /metrics endpoints.
 */
@Global()
@Module({})
export class RuntimeModule {
  static forApp(options: RuntimeOptions): DynamicModule {
    const { config, logger } = options;
    const registry = new Registry();
    registry.setDefaultLabels({ app: config.app });
    collectDefaultMetrics({ register: registry, prefix: 'triggers_' });
    new Gauge({ name: 'triggers_app_info', help: 'Always 1; labels say which app this is', registers: [registry] }).set(1);

    const providers = [
      { provide: APP_CONFIG, useValue: config },
      { provide: APP_LOGGER, useValue: logger },
      { provide: METRICS_REGISTRY, useValue: registry },
      { provide: KAFKA, useFactory: () => createKafka(config.kafka, logger) },
      { provide: AVRO_SERDE, useFactory: () => new AvroSerde(createRegistry(config.registry), config.kafka.topics) },
      ...(options.mongo
        ? [
            // The app starts even when MongoDB is down; /healthz reports it until it is back.
            { provide: MONGO, useFactory: async () => (await import('@triggers/mongo')).connectMongoLazily(config.mongodbUri, logger) },
            MongoCloser,
          ]
        : []),
      {
        provide: HEALTH_CHECKS,
        useFactory: (mongo?: MongoHandle) =>
          new HealthRegistry([
            kafkaHealthCheck(createKafka(config.kafka, logger, { probe: true })),
            registryHealthCheck(config),
            ...(mongo ? [mongoHealthCheck(mongo)] : []),
          ]),
        inject: options.mongo ? [MONGO] : [],
      },
      {
        provide: AppRuntime,
        useFactory: (kafka: Kafka, serde: AvroSerde, health: HealthRegistry) => new AppRuntime(config, logger, kafka, serde, registry, health),
        inject: [KAFKA, AVRO_SERDE, HEALTH_CHECKS],
      },
    ];
    return {
      module: RuntimeModule,
      controllers: [OpsController],
      providers,
      exports: [AppRuntime, APP_CONFIG, APP_LOGGER, METRICS_REGISTRY, KAFKA, AVRO_SERDE, HEALTH_CHECKS, ...(options.mongo ? [MONGO] : [])],
    };
  }
}
