import { KAFKA_TOPICS, TOPIC_KEYS } from '@triggers/contracts';
import { ensureTopics } from '@triggers/kafka';
import { useTestContext } from '@triggers/testing';

describe('topic bootstrap', () => {
  const ctx = useTestContext();

  it('creates every topic with its partitions and cleanup policy, then is a no-op', async () => {
    const layout = { topics: ctx().config.kafka.topics, partitions: 3, replicationFactor: 1 };
    const first = await ensureTopics(ctx().admin, layout, ctx().serde);
    expect(first.every((r) => r.created)).toBe(true);
    expect(first).toHaveLength(TOPIC_KEYS.length);

    const meta = await ctx().admin.fetchTopicMetadata({ topics: Object.values(ctx().config.kafka.topics) });
    for (const t of meta.topics) expect(t.partitions).toHaveLength(3);

    const configTopic = ctx().config.kafka.topics.triggerConfig;
    const described = await ctx().admin.describeConfigs({
      resources: [{ type: 2, name: configTopic, configNames: ['cleanup.policy'] }],
      includeSynonyms: false,
    });
    expect(described.resources[0].configEntries[0].configValue).toBe('compact');

    const second = await ensureTopics(ctx().admin, layout, ctx().serde);
    expect(second.some((r) => r.created)).toBe(false);
    expect(second.map((r) => r.schemaId)).toEqual(first.map((r) => r.schemaId));
    for (const r of second) {
      const declared = (KAFKA_TOPICS[r.key] as { valueSchema?: string }).valueSchema;
      expect(r.schemaId !== undefined).toBe(declared !== undefined);
    }
  });
});
