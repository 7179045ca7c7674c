import type { Admin, ITopicConfig } from 'kafkajs';
import { KAFKA_TOPICS, TOPIC_KEYS, TopicKey, TopicNames } from '@triggers/contracts';
import type { AvroSerde } from './avro-serde';

/** How {@link ensureTopics} creates topics. */
export interface TopicLayout {
  topics: TopicNames;
  partitions: number;
  replicationFactor: number;
  /** Extra per-topic configs, e.g. `min.insync.replicas` in production. */
  configs?: Record<string, string>;
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
}

/**
 * Creates every product topic that does not exist yet (compaction for the trigger config topic)
 * and registers each topic's value schema. Idempotent: a second run creates nothing and gets the
 * same schema ids back.
 */
export async function ensureTopics(admin: Admin, layout: TopicLayout, serde?: AvroSerde): Promise<TopicReport[]> {
  const existing = new Set(await admin.listTopics());
  const missing: ITopicConfig[] = [];
  for (const key of TOPIC_KEYS) {
    const name = layout.topics[key];
    if (existing.has(name)) continue;
    const configEntries = Object.entries({
      'cleanup.policy': KAFKA_TOPICS[key].cleanupPolicy,
      ...layout.configs,
    }).map(([n, value]) => ({ name: n, value }));
    missing.push({
      topic: name,
      numPartitions: layout.partitions,
      replicationFactor: layout.replicationFactor,
      configEntries,
    });
  }
  if (missing.length > 0) await createTopicsAndWait(admin, missing);
  const created = new Set(missing.map((t) => t.topic));
  const reports: TopicReport[] = [];
  for (const key of TOPIC_KEYS) {
    const name = layout.topics[key];
    const schema = (KAFKA_TOPICS[key] as { valueSchema?: string }).valueSchema;
    const schemaId = schema && serde ? await serde.register(name, schema) : undefined;
    reports.push({ key, name, created: created.has(name), schemaId });
  }
  return reports;
}
