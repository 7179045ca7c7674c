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
  if (missing.length > 0) {
    // validateOnly=false, waitForLeaders=true: the topics are usable when this returns.
    await admin.createTopics({ topics: missing, waitForLeaders: true });
  }
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
