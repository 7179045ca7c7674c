import { z } from 'zod';
import { AppName, BaseConfig, DEFAULT_PORTS, WebhookTimingConfig, loadBaseConfig, loadWebhookTimingConfig } from './app-config';
import { Env, csv, parseEnv } from './env';

/** triggers-api: the HTTP API and the web page. */
export type ApiConfig = BaseConfig;

/** matcher: events + trigger config → commands. */
export interface MatcherConfig extends BaseConfig {
  groupId: string;
}

/** webhook-dispatcher: delivery, retries, SSRF guard. */
export interface DispatcherConfig extends BaseConfig {
  groupId: string;
  webhook: WebhookTimingConfig;
  /** CIDRs webhooks may reach although private or loopback (local demos and tests). */
  allowedCidrs: string[];
}

/** lead-mover: applies lead.update.list. */
export interface LeadMoverConfig extends BaseConfig {
  groupId: string;
}

/** log-sink: the log topic into MongoDB. */
export interface LogSinkConfig extends BaseConfig {
  groupId: string;
}

const base = (app: AppName, env: Env) => loadBaseConfig(app, env, DEFAULT_PORTS[app]);
const group = (env: Env, fallback: string) =>
  parseEnv({ KAFKA_GROUP_ID: z.string().min(1).default(fallback) }, env).KAFKA_GROUP_ID;

/**
 * Each app's typed configuration, read once at start-up. A bad variable throws a ConfigError
 * naming it, and the app stops.
 */
export const appConfig = {
  'triggers-api': (env: Env = process.env): ApiConfig => base('triggers-api', env),
  matcher: (env: Env = process.env): MatcherConfig => ({
    ...base('matcher', env),
    groupId: group(env, 'triggers-matcher'),
  }),
  'webhook-dispatcher': (env: Env = process.env): DispatcherConfig => ({
    ...base('webhook-dispatcher', env),
    groupId: group(env, 'triggers-webhook-dispatcher'),
    webhook: loadWebhookTimingConfig(env),
    allowedCidrs: parseEnv({ WEBHOOK_ALLOWED_CIDRS: csv().optional() }, env).WEBHOOK_ALLOWED_CIDRS ?? [],
  }),
  'lead-mover': (env: Env = process.env): LeadMoverConfig => ({
    ...base('lead-mover', env),
    groupId: group(env, 'triggers-lead-mover'),
  }),
  'log-sink': (env: Env = process.env): LogSinkConfig => ({
    ...base('log-sink', env),
    groupId: group(env, 'triggers-log-sink'),
  }),
};
