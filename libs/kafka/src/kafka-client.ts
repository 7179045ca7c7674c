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
 * kafkajs's error lines about group membership, fencing and partitions changing leaders, which
 * instances coming and going and brokers restarting cause every time, and which kafkajs retries
 * or rejoins by itself: logged at info as rebalances, not as errors.
 */
const ROUTINE =
  /The group is rebalancing|coordinator is not aware of this member|generation id is not valid|old epoch|newer producer with the same transactionalId|another concurrent operation on the same transaction|not the correct coordinator|coordinator is loading|not the leader for that topic-partition|There is no leader for this topic-partition/;

/**
 * The one place a kafkajs client is built from the configuration (brokers, TLS, SASL). Its own log
 * lines go through the app's structured logger; kafkajs's INFO chatter (joins, rebalances) stays
 * at debug unless it is a warning or an error. A `probe` client (the /healthz check) tries once
 * with short timeouts and logs nothing, so a dead broker makes the check fail fast, not hang.
 * Rebalances and leader moves ({@link ROUTINE}) are routine: info, with `rebalance: true`.
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
        const routine = level <= logLevel.WARN && ROUTINE.test(`${message} ${String(rest.error ?? '')}`);
        if (routine) log.info({ ...rest, namespace: undefined, rebalance: true }, message);
        else log[LEVELS[level] ?? 'info']({ ...rest, namespace: undefined }, message);
      },
  });
}
