import { EVENT_TYPE_IDS, EventType, EVENT_TYPES } from './event-types';

/** How a topic is created: compacted topics keep the latest value per key forever. */
export interface TopicSpec {
  /** Default name; its first segment is the namespace (`triggers`), its last the version. */
  name: string;
  /**
   * Full name of the Avro record its values carry, the one home of topic ↔ schema: encoders are
   * taken by topic key. Absent for dead-letter topics, whose values are copies of messages that
   * could not be handled, byte for byte, whatever they were.
   */
  valueSchema?: string;
  cleanupPolicy: 'delete' | 'compact';
  /** How long a delete topic keeps messages (`retention.ms`); compacted topics keep the latest forever. */
  retentionMs?: number;
  /** Why the topic exists, for the README and `topics` output. */
  doc: string;
}

const DAY = 24 * 60 * 60 * 1000;

const eventTopicKey = (type: EventType) => `events.${type}` as const;

/**
 * Every topic of the product with its version, in one place (as amplication's KAFKA_TOPICS).
 * Names are defaults: configuration may swap the `triggers` namespace (tests use a fresh one per
 * run) or override a single topic by key.
 */
export const KAFKA_TOPICS = {
  ...(Object.fromEntries(
    EVENT_TYPE_IDS.map((type) => [
      eventTopicKey(type),
      {
        name: `triggers.events.${type}.v1`,
        valueSchema: EVENT_TYPES[type].schema,
        cleanupPolicy: 'delete',
        retentionMs: 7 * DAY,
        doc: `${EVENT_TYPES[type].displayName} events published by platform services`,
      },
    ]),
  ) as Record<`events.${EventType}`, TopicSpec>),
  triggerConfig: {
    name: 'triggers.config.triggers.v1',
    valueSchema: 'triggers.config.TriggerConfig',
    cleanupPolicy: 'compact',
    doc: 'Every trigger, keyed <tenantId>/<triggerId>; a tombstone deletes it',
  },
  webhookCommands: {
    name: 'triggers.commands.webhook.v1',
    valueSchema: 'triggers.commands.WebhookCommand',
    cleanupPolicy: 'delete',
    retentionMs: 7 * DAY,
    doc: 'Webhook deliveries to make, one per matched webhook action',
  },
  webhookRetry: {
    name: 'triggers.retry.webhook.10m.v1',
    valueSchema: 'triggers.commands.WebhookCommand',
    cleanupPolicy: 'delete',
    retentionMs: 7 * DAY, // far beyond the 10-minute delay and the 48-hour window,
    doc: 'Failed webhook deliveries waiting for their next attempt (the 10-minute tier)',
  },
  leadCommands: {
    name: 'triggers.commands.lead.v1',
    valueSchema: 'triggers.commands.LeadCommand',
    cleanupPolicy: 'delete',
    retentionMs: 7 * DAY,
    doc: 'lead.update.list moves to apply, one per matched lead action',
  },
  log: {
    name: 'triggers.log.v1',
    valueSchema: 'triggers.log.LogRecord',
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY, // what analysts can read back; TOPIC_LOG_RETENTION_MS overrides,
    doc: 'Every match, attempt and outcome, for analysts and the Event Logs view',
  },
  endpointHealth: {
    name: 'triggers.state.endpoint-health.v1',
    valueSchema: 'triggers.health.EndpointHealth',
    cleanupPolicy: 'compact',
    doc: "Each trigger's webhook endpoint health (failing or healthy), keyed <tenantId>/<triggerId>, in the log topic's partition it is computed from",
  },
  deadLetterEvents: {
    name: 'triggers.deadletter.events.v1',
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    doc: 'Event messages the matcher could not read, with the reason in headers',
  },
  deadLetterWebhook: {
    name: 'triggers.deadletter.webhook.v1',
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    doc: 'Webhook commands given up after the retry window, or unreadable, as read from their topic',
  },
  deadLetterLead: {
    name: 'triggers.deadletter.lead.v1',
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    doc: 'Lead commands that could not be read',
  },
  deadLetterLog: {
    name: 'triggers.deadletter.log.v1',
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    doc: 'Log records that could not be read',
  },
} satisfies Record<string, TopicSpec>;

/** The key of one topic in {@link KAFKA_TOPICS}. */
export type TopicKey = keyof typeof KAFKA_TOPICS;

/** Topic names in force, by key. */
export type TopicNames = Record<TopicKey, string>;

/** Every topic key. */
export const TOPIC_KEYS = Object.keys(KAFKA_TOPICS) as TopicKey[];

/** The key of the topic carrying events of `type`. */
export function eventTopicKeyOf(type: EventType): RecordTopicKey {
  return eventTopicKey(type) as RecordTopicKey;
}

/**
 * Resolves topic names: the namespace replaces the leading `triggers` of every default name,
 * then single-topic overrides apply.
 */
export function resolveTopicNames(namespace = 'triggers', overrides: Partial<Record<TopicKey, string>> = {}): TopicNames {
  const names = {} as TopicNames;
  for (const key of TOPIC_KEYS) {
    const base = KAFKA_TOPICS[key].name.replace(/^triggers\./, `${namespace}.`);
    names[key] = overrides[key] ?? base;
  }
  return names;
}

/** The environment variable that overrides one topic's name, e.g. `TOPIC_WEBHOOK_COMMANDS`. */
export function topicEnvVar(key: TopicKey): string {
  return (
    'TOPIC_' +
    key
      .replace(/([a-z])([A-Z])/g, '$1_$2')
      .replace(/[.]/g, '_')
      .toUpperCase()
  );
}

/** A topic that carries Avro records of one schema (every topic but the dead-letter ones). */
export type RecordTopicKey = Exclude<TopicKey, `deadLetter${string}`>;

/** The schema of the records `key` carries. */
export function valueSchemaOf(key: RecordTopicKey): string {
  const schema = (KAFKA_TOPICS[key] as TopicSpec).valueSchema;
  if (!schema) throw new Error(`topic ${key} carries no Avro records`);
  return schema;
}

/** The dead-letter topic of what is read from `key`: the event topics', the webhook tiers', the lead commands', the log's. */
export function deadLetterTopicOf(key: RecordTopicKey): TopicKey {
  if (key.startsWith('events.')) return 'deadLetterEvents';
  if (key === 'webhookCommands' || key === 'webhookRetry') return 'deadLetterWebhook';
  if (key === 'leadCommands') return 'deadLetterLead';
  if (key === 'log') return 'deadLetterLog';
  throw new Error(`${key} has no dead-letter topic: its readers report poison themselves`);
}

/** Whether `key` carries Avro records (dead-letter topics carry copies of raw messages). */
export function carriesRecords(key: TopicKey): key is RecordTopicKey {
  return (KAFKA_TOPICS[key] as TopicSpec).valueSchema !== undefined;
}
