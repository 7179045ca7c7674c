import { DynamicModule, Global, Module, OnApplicationShutdown, Inject } from '@nestjs/common';
import { Registry, collectDefaultMetrics, Gauge } from 'prom-client';
import type { BaseConfig } from '@triggers/config';
import { AvroSerde, TriggerConfigFeed, createKafka, createRegistry } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
// Types only: the MongoDB driver is loaded by the apps that connect (it holds 20 MB the others never use).
import type { MongoHandle } from '@triggers/mongo';
import { HealthRegistry, kafkaHealthCheck, mongoHealthCheck, registryHealthCheck } from './health-checks';
import { retryWithBackoff } from '@triggers/errors';
import { AppRuntime } from './app-runtime';
import { OpsController } from './ops.controller';
import { APP_CONFIG, APP_LOGGER, AVRO_SERDE, HEALTH_CHECKS, KAFKA, METRICS_REGISTRY, MONGO, TRIGGER_CONFIG_FEED } from './tokens';
import type { Kafka } from 'kafkajs';

/** What {@link RuntimeModule.forApp} wires. */
export interface RuntimeOptions {
  config: BaseConfig;
  logger: Logger;
  /** Connect to MongoDB (apps that store or read documents). */
  mongo?: boolean;
  /** Feed the trigger config topic to the app (its /healthz then reports `triggerConfig`); the app's group names the feed's. */
  triggerConfig?: { groupId: string };
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
            { provide: MONGO, useFactory: () => connectMongoLazily(config.mongodbUri, logger) },
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
      ...(options.triggerConfig
        ? [
            {
              provide: TRIGGER_CONFIG_FEED,
              useFactory: (kafka: Kafka, serde: AvroSerde, health: HealthRegistry) => {
                const feed = new TriggerConfigFeed({
                  kafka,
                  serde,
                  logger,
                  metrics: registry,
                  groupId: options.triggerConfig!.groupId,
                  topic: config.kafka.topics.triggerConfig,
                });
                health.register(feed.healthCheck());
                return feed;
              },
              inject: [KAFKA, AVRO_SERDE, HEALTH_CHECKS],
            },
          ]
        : []),
    ];
    return {
      module: RuntimeModule,
      controllers: [OpsController],
      providers,
      exports: [
        AppRuntime,
        APP_CONFIG,
        APP_LOGGER,
        METRICS_REGISTRY,
        KAFKA,
        AVRO_SERDE,
        HEALTH_CHECKS,
        ...(options.mongo ? [MONGO] : []),
        ...(options.triggerConfig ? [TRIGGER_CONFIG_FEED] : []),
      ],
    };
  }
}

/**
 * The app's MongoDB handle, also when the database is down at start-up: the app starts and
 * /healthz reports it. The driver closes its topology when a connection attempt fails, and a
 * client whose first connection failed that way answers "Topology is closed" for good; so the
 * same client is connected again in the background, with backoff, until the database answers.
 * Every service keeps the `db` it took, which works from then on; their writes wait meanwhile.
 */
async function connectMongoLazily(uri: string, logger: Logger): Promise<MongoHandle> {
  const { connectMongo } = await import('@triggers/mongo');
  try {
    return await connectMongo(uri);
  } catch (err) {
    logger.warn({ err }, 'MongoDB is not reachable yet; connecting in the background');
    const { MongoClient } = await import('mongodb');
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5_000, appName: 'triggers' });
    let closed = false;
    const close = client.close.bind(client);
    client.close = (force?: boolean) => {
      closed = true;
      return close(force);
    };
    void retryWithBackoff(() => client.connect(), {
      firstMs: 1_000,
      maxMs: 15_000,
      stopped: () => closed,
      onFailure: (e, retryInMs) => logger.warn({ err: (e as Error).message, retryInMs }, 'MongoDB still not reachable; connecting again'),
    }).then((connected) => connected && logger.info('MongoDB reachable; connected'));
    return { client, db: client.db() };
  }
}
