import { z } from 'zod';
import { TOPIC_KEYS, TopicKey, TopicNames, resolveTopicNames, topicEnvVar } from '@triggers/contracts';
import { ConfigError } from './config-error';
import { Env, bool, csv, durationMs, httpUrl, parseEnv, port, positiveInt } from './env';

/** Kafka connection, as every app and tool uses it. */
export interface KafkaConfig {
  brokers: string[];
  clientId: string;
  ssl: boolean;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /** Partitions and replication used when the project creates topics. */
  partitions: number;
  replicationFactor: number;
  /** First segment of topic names, and of consumer group names (`<namespace>-<app>`). */
  namespace: string;
  /** How long a consumer may go silent before its group gives its partitions to others. */
  sessionTimeoutMs: number;
  /** How long an engine keeps trying to restart a stopped consumer before /livez fails. */
  consumerGiveUpMs: number;
  topics: TopicNames;
}

/** Confluent-API-compatible schema registry. */
export interface RegistryConfig {
  url: string;
  auth?: { username: string; password: string };
}

/** What every app shares: identity, logs, the HTTP port for /healthz and /metrics, servers. */
export interface BaseConfig {
  app: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** HTTP port of the app (the API, or /healthz and /metrics of a consumer). */
  port: number;
  host: string;
  kafka: KafkaConfig;
  registry: RegistryConfig;
  mongodbUri: string;
  /** How long a graceful shutdown may take before the process exits anyway. */
  shutdownTimeoutMs: number;
}

/** Default HTTP port per app, so all five run side by side on one machine. */
export const DEFAULT_PORTS = {
  'triggers-api': 3000,
  matcher: 3001,
  'webhook-dispatcher': 3002,
  'lead-mover': 3003,
  'log-sink': 3004,
} as const;

/** One of the five apps. */
export type AppName = keyof typeof DEFAULT_PORTS;

const baseShape = {
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOST: z.string().default('127.0.0.1'),
  KAFKA_BROKERS: csv().default(['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: z.string().optional(),
  KAFKA_SSL: bool().default(false),
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  KAFKA_SESSION_TIMEOUT_MS: durationMs().min(6000, 'must be at least 6000 (the broker minimum)').default(30_000),
  CONSUMER_RESTART_GIVE_UP_MS: durationMs().default(300_000),
  TOPIC_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
    .default('triggers'),
  TOPIC_PARTITIONS: positiveInt().default(3),
  TOPIC_REPLICATION_FACTOR: positiveInt().default(1),
  SCHEMA_REGISTRY_URL: httpUrl().default('http://127.0.0.1:8081/apis/ccompat/v7'),
  SCHEMA_REGISTRY_USERNAME: z.string().optional(),
  SCHEMA_REGISTRY_PASSWORD: z.string().optional(),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\/.+/, 'must be a mongodb:// or mongodb+srv:// URI')
    .default('mongodb://127.0.0.1:27017/triggers'),
  SHUTDOWN_TIMEOUT_MS: durationMs().default(30_000),
};

const topicShape = Object.fromEntries(
  TOPIC_KEYS.map((key) => [
    topicEnvVar(key),
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a valid Kafka topic name')
      .optional(),
  ]),
) as Record<string, z.ZodOptional<z.ZodString>>;

/**
 * Reads the shared configuration of `app` from `env`.
 * @throws ConfigError naming each bad variable.
 */
export function loadBaseConfig(app: AppName | string, env: Env, defaultPort = 3000): BaseConfig {
  const v = parseEnv({ ...baseShape, ...topicShape, PORT: port().default(defaultPort) }, env);
  const overrides: Partial<Record<TopicKey, string>> = {};
  for (const key of TOPIC_KEYS) {
    const value = (v as unknown as Record<string, string | undefined>)[topicEnvVar(key)];
    if (value) overrides[key] = value;
  }
  const sasl = v.KAFKA_SASL_MECHANISM
    ? {
        mechanism: v.KAFKA_SASL_MECHANISM,
        username: required(v.KAFKA_SASL_USERNAME, 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_MECHANISM is set'),
        password: required(v.KAFKA_SASL_PASSWORD, 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_MECHANISM is set'),
      }
    : undefined;
  return {
    app,
    logLevel: v.LOG_LEVEL,
    port: v.PORT,
    host: v.HOST,
    kafka: {
      brokers: v.KAFKA_BROKERS,
      clientId: v.KAFKA_CLIENT_ID ?? `triggers-${app}`,
      ssl: v.KAFKA_SSL,
      sasl,
      partitions: v.TOPIC_PARTITIONS,
      replicationFactor: v.TOPIC_REPLICATION_FACTOR,
      namespace: v.TOPIC_NAMESPACE,
      sessionTimeoutMs: v.KAFKA_SESSION_TIMEOUT_MS,
      consumerGiveUpMs: v.CONSUMER_RESTART_GIVE_UP_MS,
      topics: resolveTopicNames(v.TOPIC_NAMESPACE, overrides),
    },
    registry: {
      url: v.SCHEMA_REGISTRY_URL,
      auth: v.SCHEMA_REGISTRY_USERNAME ? { username: v.SCHEMA_REGISTRY_USERNAME, password: v.SCHEMA_REGISTRY_PASSWORD ?? '' } : undefined,
    },
    mongodbUri: v.MONGODB_URI,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
  };
}

function required(value: string | undefined, variable: string, because: string): string {
  if (!value) {
    throw new ConfigError([{ variable, message: `required when ${because}` }]);
  }
  return value;
}

/** How `topics apply` creates topics, beyond partitions and replication. */
export interface TopicsConfig {
  /** `min.insync.replicas` of every topic: 2 with 3 replicas, so one broker may be down. */
  minInsyncReplicas: number;
  /** Retention of the log topic: how far back analysts (and a rebuilt Event Logs) can read. */
  logRetentionMs?: number;
}

/** Reads the topic provisioning settings; `min.insync.replicas` defaults to min(2, replication). */
export function loadTopicsConfig(env: Env, replicationFactor: number): TopicsConfig {
  const v = parseEnv({ TOPIC_MIN_INSYNC_REPLICAS: positiveInt().optional(), TOPIC_LOG_RETENTION_MS: durationMs().optional() }, env);
  const minInsyncReplicas = v.TOPIC_MIN_INSYNC_REPLICAS ?? Math.min(2, replicationFactor);
  if (minInsyncReplicas > replicationFactor) {
    throw new ConfigError([{ variable: 'TOPIC_MIN_INSYNC_REPLICAS', message: `must not exceed TOPIC_REPLICATION_FACTOR (${replicationFactor})` }]);
  }
  return { minInsyncReplicas, logRetentionMs: v.TOPIC_LOG_RETENTION_MS };
}

/** Timing of webhook delivery; the spec's values are the defaults, tests compress them. */
export interface WebhookTimingConfig {
  /** Delay of the retry tier: the spec's "a retry will be dispatched after 10 minutes". */
  retryDelayMs: number;
  /** How long retries go on: the spec's "retries will happen for 48 hours". */
  retryWindowMs: number;
  /**
   * How long one minute of a trigger's own `retryWindow` lasts: a minute, or less where tests
   * compress time (a 30-minute window is 30 of these).
   */
  retryWindowMinuteMs: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** The spec: "will not process webhook responses larger than 10kb". */
  maxResponseBytes: number;
  /**
   * How long a delivery may wait for a connection to its endpoint (all of the origin's connections
   * busy) before it counts as a failed attempt (`origin.busy`) and is retried on the schedule.
   */
  maxQueueWaitMs: number;
}

const webhookTimingShape = {
  WEBHOOK_RETRY_DELAY_MS: durationMs().default(10 * 60 * 1000),
  WEBHOOK_RETRY_WINDOW_MS: durationMs().default(48 * 60 * 60 * 1000),
  WEBHOOK_RETRY_WINDOW_MINUTE_MS: durationMs().default(60 * 1000),
  WEBHOOK_CONNECT_TIMEOUT_MS: durationMs().default(5_000),
  WEBHOOK_HEADERS_TIMEOUT_MS: durationMs().default(10_000),
  WEBHOOK_BODY_TIMEOUT_MS: durationMs().default(10_000),
  WEBHOOK_MAX_RESPONSE_BYTES: positiveInt().default(10 * 1024),
  WEBHOOK_MAX_QUEUE_WAIT_MS: durationMs().default(30_000),
};

/** Reads webhook timing from `env`. */
export function loadWebhookTimingConfig(env: Env): WebhookTimingConfig {
  const v = parseEnv(webhookTimingShape, env);
  return {
    retryDelayMs: v.WEBHOOK_RETRY_DELAY_MS,
    retryWindowMs: v.WEBHOOK_RETRY_WINDOW_MS,
    retryWindowMinuteMs: v.WEBHOOK_RETRY_WINDOW_MINUTE_MS,
    connectTimeoutMs: v.WEBHOOK_CONNECT_TIMEOUT_MS,
    headersTimeoutMs: v.WEBHOOK_HEADERS_TIMEOUT_MS,
    bodyTimeoutMs: v.WEBHOOK_BODY_TIMEOUT_MS,
    maxResponseBytes: v.WEBHOOK_MAX_RESPONSE_BYTES,
    maxQueueWaitMs: v.WEBHOOK_MAX_QUEUE_WAIT_MS,
  };
}
