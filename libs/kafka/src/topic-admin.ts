import { classify, retryWithBackoff } from '@triggers/errors';
import { ConfigResourceTypes } from 'kafkajs';
import type { Admin, ITopicConfig } from 'kafkajs';
import { KAFKA_TOPICS, RecordTopicKey, TOPIC_KEYS, TopicKey, TopicNames, carriesRecords } from '@triggers/contracts';
import type { AvroSerde } from './avro-serde';

/** How {@link ensureTopics} creates topics. */
export interface TopicLayout {
  topics: TopicNames;
  partitions: number;
  replicationFactor: number;
  /** `min.insync.replicas` of every topic (production: 2 of 3 replicas). */
  minInsyncReplicas?: number;
  /** Retention overrides, by topic key (e.g. the log topic's, for analysts). */
  retentionMs?: Partial<Record<TopicKey, number>>;
}

/** The configs a product topic is created with: its cleanup policy, retention and ISR minimum. */
export function topicConfigs(key: TopicKey, layout: TopicLayout): Record<string, string> {
  const spec = KAFKA_TOPICS[key] as { cleanupPolicy: string; retentionMs?: number };
  const retention = layout.retentionMs?.[key] ?? spec.retentionMs;
  return {
    'cleanup.policy': spec.cleanupPolicy,
    ...(spec.cleanupPolicy === 'delete' && retention !== undefined ? { 'retention.ms': String(retention) } : {}),
    ...(layout.minInsyncReplicas !== undefined ? { 'min.insync.replicas': String(layout.minInsyncReplicas) } : {}),
  };
}

/**
 * Creates topics and returns once every partition has a leader. kafkajs's own waitForLeaders
 * gives up with "This server does not host this topic-partition" while a freshly started broker
 * is still publishing metadata, so the wait here treats that as "not yet".
 */
export async function createTopicsAndWait(admin: Admin, topics: ITopicConfig[], timeoutMs = 60_000): Promise<void> {
  await admin.createTopics({ topics, waitForLeaders: false });
  const names = topics.map((t) => t.topic);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: names });
      const ready = meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      if (ready && meta.topics.length === names.length) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`topics without leaders after ${timeoutMs} ms: ${names.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What {@link ensureTopics} found and did, per topic. */
export interface TopicReport {
  key: TopicKey;
  name: string;
  created: boolean;
  schemaId?: number;
  /** How an existing topic differs from the layout (fewer partitions, other configs); never changed here. */
  drift: string[];
}

/**
 * Creates every product topic that does not exist yet, with its configs ({@link topicConfigs}),
 * checks the ones that exist against the layout (reporting drift, changing nothing: repartitioning
 * or re-configuring a live topic is an operator's decision), and registers each topic's value
 * schema. Idempotent: a second run creates nothing and gets the same schema ids back.
 */
export async function ensureTopics(admin: Admin, layout: TopicLayout, serde?: AvroSerde): Promise<TopicReport[]> {
  const existing = new Set(await admin.listTopics());
  const missing: ITopicConfig[] = [];
  for (const key of TOPIC_KEYS) {
    const name = layout.topics[key];
    if (existing.has(name)) continue;
    missing.push({
      topic: name,
      numPartitions: layout.partitions,
      replicationFactor: layout.replicationFactor,
      configEntries: Object.entries(topicConfigs(key, layout)).map(([n, value]) => ({ name: n, value })),
    });
  }
  if (missing.length > 0) await createTopicsAndWait(admin, missing);
  const created = new Set(missing.map((t) => t.topic));
  const drift = await checkExisting(
    admin,
    layout,
    TOPIC_KEYS.filter((k) => !created.has(layout.topics[k])),
  );
  const reports: TopicReport[] = [];
  for (const key of TOPIC_KEYS) {
    const name = layout.topics[key];
    const schemaId = serde && carriesRecords(key) ? await registerPatiently(serde, key) : undefined;
    reports.push({ key, name, created: created.has(name), schemaId, drift: drift.get(key) ?? [] });
  }
  return reports;
}

/**
 * Registers a schema, waiting out a registry that does not answer yet (one just started takes a
 * while to accept its first writes): up to a minute, then the error stands.
 */
async function registerPatiently(serde: AvroSerde, key: RecordTopicKey): Promise<number> {
  const until = Date.now() + 60_000;
  let id = 0;
  await retryWithBackoff(async () => (id = await serde.register(key)), {
    firstMs: 500,
    maxMs: 5_000,
    onFailure: (err, retryInMs) => {
      if (classify(err).kind !== 'transient' || Date.now() + retryInMs > until) throw err;
    },
  });
  return id;
}

async function checkExisting(admin: Admin, layout: TopicLayout, keys: TopicKey[]): Promise<Map<TopicKey, string[]>> {
  const drift = new Map<TopicKey, string[]>();
  if (keys.length === 0) return drift;
  const names = keys.map((k) => layout.topics[k]);
  const meta = await admin.fetchTopicMetadata({ topics: names });
  const described = await admin.describeConfigs({
    resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
    includeSynonyms: false,
  });
  for (const key of keys) {
    const name = layout.topics[key];
    const found: string[] = [];
    const partitions = meta.topics.find((t) => t.name === name)?.partitions.length ?? 0;
    if (partitions < layout.partitions) found.push(`${partitions} partitions, fewer than ${layout.partitions}`);
    const entries = described.resources.find((r) => r.resourceName === name)?.configEntries ?? [];
    for (const [config, wanted] of Object.entries(topicConfigs(key, layout))) {
      const actual = entries.find((e) => e.configName === config)?.configValue;
      if (actual !== wanted) found.push(`${config} is ${actual ?? '(unset)'}, expected ${wanted}`);
    }
    if (found.length > 0) drift.set(key, found);
  }
  return drift;
}
