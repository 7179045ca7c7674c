import { Kafka, logLevel, LogEntry } from 'kafkajs';
import type { KafkaConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * The one place a kafkajs client is built from the configuration (brokers, TLS, SASL). Its own log
 * lines go through the app's structured logger; kafkajs's INFO chatter (joins, rebalances) stays
 * at debug unless it is a warning or an error. A `probe` client (the /healthz check) tries once
 * with short timeouts and logs nothing, so a dead broker makes the check fail fast, not hang.
 */
export function createKafka(config: KafkaConfig, logger: Logger, { probe = false } = {}): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: probe ? `${config.clientId}-health` : config.clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    sasl: config.sasl as never,
    ...(probe ? { connectionTimeout: 1500, retry: { retries: 0 } } : {}),
    logLevel: probe ? logLevel.NOTHING : logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        log[LEVELS[level] ?? 'info']({ ...rest, namespace: undefined }, message);
      },
  });
}
