import { hostname } from 'node:os';
import { z } from 'zod';
import { AppName, BaseConfig, DEFAULT_PORTS, WebhookTimingConfig, loadBaseConfig, loadWebhookTimingConfig } from './app-config';
import { ConfigError } from './config-error';
import { SECRETS_KEY_FORMAT, SecretKeyring, parseSecretsKey } from '@triggers/secrets';
import { Env, cidrList, durationMs, httpUrl, parseEnv, positiveInt } from './env';

/**
 * The keys webhook signing secrets are sealed with at rest: `SECRETS_KEY` (required; new secrets
 * use it) and `SECRETS_KEYS_PREVIOUS` (comma-separated, still opened, for rotations).
 */
function secretsKeyring(env: Env): SecretKeyring {
  const v = parseEnv(
    {
      SECRETS_KEY: z
        .string({ error: 'required: <key id>:<base64 of 32 random bytes> (npm start generates one)' })
        .regex(SECRETS_KEY_FORMAT, 'must be <key id>:<base64 of 32 bytes>'),
      SECRETS_KEYS_PREVIOUS: z
        .string()
        .optional()
        .refine((s) => !s || s.split(',').every((k) => SECRETS_KEY_FORMAT.test(k.trim())), 'must be a comma-separated list of <key id>:<base64 of 32 bytes>'),
    },
    env,
  );
  return {
    current: parseSecretsKey(v.SECRETS_KEY),
    previous: (v.SECRETS_KEYS_PREVIOUS ?? '')
      .split(',')
      .filter((k) => k.trim())
      .map(parseSecretsKey),
  };
}

/** triggers-api: the HTTP API and the web page. */
export interface ApiConfig extends BaseConfig {
  /** Requests one API key may make per minute. */
  rateLimitPerMinute: number;
  /** How long a rotated-out webhook signing secret stays valid beside the new one. */
  secretOverlapMs: number;
  /** How often unpublished trigger changes are re-driven to the config topic. */
  redriveIntervalMs: number;
  /** How long a request waits for its change to reach the config topic before answering. */
  publishTimeoutMs: number;
  /** Seals webhook signing secrets before they are stored or published. */
  secretsKeyring: SecretKeyring;
  /** Ranges webhook URLs may name although special (the dispatcher's WEBHOOK_ALLOWED_CIDRS). */
  allowedCidrs: string[];
  /** Largest request body accepted (413 past it). */
  maxBodyBytes: number;
  /** Failed authentications one address may make per minute before its requests get 429. */
  authFailuresPerMinute: number;
  /** Requests one tenant may make per minute, across its keys. */
  tenantRateLimitPerMinute: number;
  /** Most commands one bulk redelivery sends (the newest first); the rest are reported left out. */
  bulkRedeliveryMaxCommands: number;
}

/** matcher: events + trigger config → commands. */
export interface MatcherConfig extends BaseConfig {
  groupId: string;
  /** Names the instance in /healthz and logs (transactional ids are per input partition). */
  instanceId: string;
  /** Longest a transaction may stay open; bounds how long a crashed instance can hold readers back. */
  transactionTimeoutMs: number;
}

/** webhook-dispatcher: delivery, retries, SSRF guard. */
export interface DispatcherConfig extends BaseConfig {
  groupId: string;
  /** The retry rule (delay, window) and the timeouts and size cap of one attempt. */
  webhook: WebhookTimingConfig;
  /** CIDRs webhooks may reach although private or loopback (local demos and tests). */
  allowedCidrs: string[];
  /** Deliveries taken from Kafka and not yet finished, across endpoints. */
  maxInFlight: number;
  /** Concurrent requests (and keep-alive connections) per receiving origin. */
  connectionsPerOrigin: number;
  /** Opens the signing secrets the config topic carries sealed. */
  secretsKeyring: SecretKeyring;
  /** How often each partition's finished deliveries are committed with their records, in one transaction. */
  commitIntervalMs: number;
  /** Longest a transaction may stay open; bounds how long a crashed instance can hold readers back. */
  transactionTimeoutMs: number;
  /** When a trigger's endpoint is failing, and how often given-up commands are told (see the health processor). */
  health: {
    failingAfterConsecutive: number;
    windowMs: number;
    windowMinAttempts: number;
    windowMinSuccessRatio: number;
    gaveUpEveryMs: number;
  };
}

/** lead-mover: applies lead.update.list. */
export interface LeadMoverConfig extends BaseConfig {
  groupId: string;
  /** Where leads and lists live: the embedded MongoDB collections, or the platform's leads API. */
  leadsStore: 'mongo' | 'http';
  leadsApi?: { url: string; token?: string; timeoutMs: number; retries: number };
}

/** log-sink: the log topic into MongoDB. */
export interface LogSinkConfig extends BaseConfig {
  groupId: string;
  /** How long Event Logs are kept. */
  retentionMs: number;
  /** How often records past the retention are removed (where no TTL index does it). */
  cleanupIntervalMs: number;
}

const base = (app: AppName, env: Env) => loadBaseConfig(app, env, DEFAULT_PORTS[app]);
/** The app's consumer group: KAFKA_GROUP_ID, else `<namespace>-<app>` (`triggers-matcher`). */
const group = (env: Env, b: BaseConfig) => parseEnv({ KAFKA_GROUP_ID: z.string().min(1).default(`${b.kafka.namespace}-${b.app}`) }, env).KAFKA_GROUP_ID;

/**
 * Each app's typed configuration, read once at start-up. A bad variable throws a ConfigError
 * naming it, and the app stops.
 */
export const appConfig = {
  'triggers-api': (env: Env = process.env): ApiConfig => {
    const v = parseEnv(
      {
        API_RATE_LIMIT_PER_MINUTE: positiveInt().default(600),
        WEBHOOK_SECRET_OVERLAP_MS: durationMs().default(24 * 60 * 60 * 1000),
        CONFIG_REDRIVE_INTERVAL_MS: positiveInt().default(5_000),
        CONFIG_PUBLISH_TIMEOUT_MS: positiveInt().default(3_000),
        WEBHOOK_ALLOWED_CIDRS: cidrList().optional(),
        API_MAX_BODY_BYTES: positiveInt().default(256 * 1024),
        API_AUTH_FAILURES_PER_MINUTE: positiveInt().default(30),
        API_TENANT_RATE_LIMIT_PER_MINUTE: positiveInt().default(3000),
        BULK_REDELIVERY_MAX_COMMANDS: positiveInt().default(10_000),
      },
      env,
    );
    return {
      ...base('triggers-api', env),
      rateLimitPerMinute: v.API_RATE_LIMIT_PER_MINUTE,
      secretOverlapMs: v.WEBHOOK_SECRET_OVERLAP_MS,
      redriveIntervalMs: v.CONFIG_REDRIVE_INTERVAL_MS,
      publishTimeoutMs: v.CONFIG_PUBLISH_TIMEOUT_MS,
      secretsKeyring: secretsKeyring(env),
      allowedCidrs: v.WEBHOOK_ALLOWED_CIDRS ?? [],
      maxBodyBytes: v.API_MAX_BODY_BYTES,
      authFailuresPerMinute: v.API_AUTH_FAILURES_PER_MINUTE,
      tenantRateLimitPerMinute: v.API_TENANT_RATE_LIMIT_PER_MINUTE,
      bulkRedeliveryMaxCommands: v.BULK_REDELIVERY_MAX_COMMANDS,
    };
  },
  matcher: (env: Env = process.env): MatcherConfig => {
    const b = base('matcher', env);
    const v = parseEnv(
      {
        MATCHER_INSTANCE_ID: z
          .string()
          .regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be letters, digits, . _ or -')
          .default(`${hostname()}-${b.port}`),
        MATCHER_TRANSACTION_TIMEOUT_MS: positiveInt().default(15_000),
      },
      env,
    );
    return {
      ...b,
      groupId: group(env, b),
      instanceId: v.MATCHER_INSTANCE_ID,
      transactionTimeoutMs: v.MATCHER_TRANSACTION_TIMEOUT_MS,
    };
  },
  'webhook-dispatcher': (env: Env = process.env): DispatcherConfig => {
    const b = base('webhook-dispatcher', env);
    const v = parseEnv(
      {
        WEBHOOK_ALLOWED_CIDRS: cidrList().optional(),
        WEBHOOK_MAX_IN_FLIGHT: positiveInt().default(1000),
        WEBHOOK_CONNECTIONS_PER_ORIGIN: positiveInt().default(16),
        WEBHOOK_COMMIT_INTERVAL_MS: positiveInt().default(1000),
        WEBHOOK_TRANSACTION_TIMEOUT_MS: positiveInt().default(15_000),
        HEALTH_FAILING_AFTER: positiveInt().default(5),
        HEALTH_WINDOW_MS: positiveInt().default(15 * 60_000),
        HEALTH_WINDOW_MIN_ATTEMPTS: positiveInt().default(10),
        HEALTH_WINDOW_MIN_SUCCESS_RATIO: z.coerce.number().min(0).max(1).default(0.5),
        HEALTH_GAVE_UP_EVERY_MS: positiveInt().default(10 * 60_000),
      },
      env,
    );
    return {
      ...b,
      groupId: group(env, b),
      webhook: loadWebhookTimingConfig(env),
      allowedCidrs: v.WEBHOOK_ALLOWED_CIDRS ?? [],
      maxInFlight: v.WEBHOOK_MAX_IN_FLIGHT,
      connectionsPerOrigin: v.WEBHOOK_CONNECTIONS_PER_ORIGIN,
      secretsKeyring: secretsKeyring(env),
      commitIntervalMs: v.WEBHOOK_COMMIT_INTERVAL_MS,
      transactionTimeoutMs: v.WEBHOOK_TRANSACTION_TIMEOUT_MS,
      health: {
        failingAfterConsecutive: v.HEALTH_FAILING_AFTER,
        windowMs: v.HEALTH_WINDOW_MS,
        windowMinAttempts: v.HEALTH_WINDOW_MIN_ATTEMPTS,
        windowMinSuccessRatio: v.HEALTH_WINDOW_MIN_SUCCESS_RATIO,
        gaveUpEveryMs: v.HEALTH_GAVE_UP_EVERY_MS,
      },
    };
  },
  'lead-mover': (env: Env = process.env): LeadMoverConfig => {
    const b = base('lead-mover', env);
    const v = parseEnv(
      {
        LEADS_STORE: z.enum(['mongo', 'http']).default('mongo'),
        LEADS_API_URL: httpUrl().optional(),
        LEADS_API_TOKEN: z.string().min(1).optional(),
        LEADS_API_TIMEOUT_MS: positiveInt().default(5_000),
        LEADS_API_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
      },
      env,
    );
    if (v.LEADS_STORE === 'http' && !v.LEADS_API_URL) throw new ConfigError([{ variable: 'LEADS_API_URL', message: 'required when LEADS_STORE=http' }]);
    return {
      ...b,
      groupId: group(env, b),
      leadsStore: v.LEADS_STORE,
      leadsApi: v.LEADS_API_URL
        ? { url: v.LEADS_API_URL, token: v.LEADS_API_TOKEN, timeoutMs: v.LEADS_API_TIMEOUT_MS, retries: v.LEADS_API_RETRIES }
        : undefined,
    };
  },
  'log-sink': (env: Env = process.env): LogSinkConfig => {
    const b = base('log-sink', env);
    const v = parseEnv(
      {
        EVENT_LOG_RETENTION_MS: positiveInt().default(90 * 24 * 60 * 60 * 1000),
        EVENT_LOG_CLEANUP_INTERVAL_MS: positiveInt().default(60 * 60 * 1000),
      },
      env,
    );
    return { ...b, groupId: group(env, b), retentionMs: v.EVENT_LOG_RETENTION_MS, cleanupIntervalMs: v.EVENT_LOG_CLEANUP_INTERVAL_MS };
  },
};
