import { randomBytes } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import { BaseConfig, loadBaseConfig } from '@triggers/config';
import { AvroSerde, createKafka, createRegistry, ensureTopics } from '@triggers/kafka';
import { createLogger, Logger } from '@triggers/logging';
import { MongoHandle, connectMongo } from '@triggers/mongo';
import { newSecretsKey } from '@triggers/secrets';

/** A short random id for fresh topic namespaces, groups and databases. */
export function uniqueId(prefix = 't'): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** Everything an integration test needs, isolated in a fresh topic namespace and database. */
export interface TestContext {
  namespace: string;
  /** Variables that point an app or a CLI at this context (servers, namespace, database). */
  env: Record<string, string>;
  config: BaseConfig;
  logger: Logger;
  kafka: Kafka;
  admin: Admin;
  serde: AvroSerde;
  /** Creates the namespace's topics and registers their schemas. */
  createTopics(): Promise<void>;
  /** Connects to this context's own database. */
  mongo(): Promise<MongoHandle>;
  close(): Promise<void>;
}

/**
 * Builds a context from the servers the global setup started (their addresses are in the
 * environment) with a fresh topic namespace and database name.
 */
export async function createTestContext(app = 'test'): Promise<TestContext> {
  const namespace = uniqueId('t');
  const mongoBase = (process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:17017/x').replace(/\/[^/]*$/, '');
  const env: Record<string, string> = {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:19092',
    SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:18081/apis/ccompat/v7',
    MONGODB_URI: `${mongoBase}/${namespace}`,
    TOPIC_NAMESPACE: namespace,
    TOPIC_PARTITIONS: process.env.TOPIC_PARTITIONS ?? '3',
    // 3 on the cluster profile (its global setup sets it), 1 on a single broker.
    TOPIC_REPLICATION_FACTOR: process.env.TOPIC_REPLICATION_FACTOR ?? '1',
    // Short, so a killed instance's partitions move on within seconds in tests.
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    // Apps started for a test log at info into test/artifacts/logs; the test's own clients stay quiet.
    LOG_LEVEL: process.env.APP_LOG_LEVEL ?? 'info',
    // The key that seals webhook signing secrets at rest, fresh per context.
    SECRETS_KEY: newSecretsKey(),
  };
  const config = loadBaseConfig(app, env);
  const logger = createLogger({ app, level: (process.env.LOG_LEVEL as never) ?? 'silent' });
  const kafka = createKafka(config.kafka, logger);
  const admin = kafka.admin();
  await admin.connect();
  const serde = new AvroSerde(createRegistry(config.registry), config.kafka.topics);
  const handles: MongoHandle[] = [];
  return {
    namespace,
    env,
    config,
    logger,
    kafka,
    admin,
    serde,
    async createTopics() {
      const { topics, partitions, replicationFactor } = config.kafka;
      await ensureTopics(admin, { topics, partitions, replicationFactor, minInsyncReplicas: Math.min(2, replicationFactor) }, serde);
    },
    async mongo() {
      const handle = await connectMongo(config.mongodbUri);
      handles.push(handle);
      return handle;
    },
    async close() {
      // Deleting the namespace's topics keeps the test broker small across many runs.
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${namespace}.`));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
      await admin.disconnect();
      for (const h of handles) {
        await h.db.dropDatabase().catch(() => undefined);
        await h.client.close();
      }
    },
  };
}

/**
 * Registers a fresh {@link TestContext} for the enclosing `describe` (created before its tests,
 * closed after them) and returns a getter for it.
 */
export function useTestContext(options: { topics?: boolean } = {}): () => TestContext {
  let ctx: TestContext | undefined;
  beforeAll(async () => {
    ctx = await createTestContext();
    if (options.topics) await ctx.createTopics();
  });
  afterAll(async () => {
    await ctx?.close();
  });
  return () => {
    if (!ctx) throw new Error('the test context is only available inside tests');
    return ctx;
  };
}
