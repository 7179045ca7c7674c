import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigResourceTypes } from 'kafkajs';
import { KAFKA_TOPICS, TOPIC_KEYS } from '@triggers/contracts';
import { ensureTopics } from '@triggers/kafka';
import { repoRoot, useTestContext } from '@triggers/testing';

const run = promisify(execFile);

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
    expect(second.flatMap((r) => r.drift)).toEqual([]);
    expect(second.map((r) => r.schemaId)).toEqual(first.map((r) => r.schemaId));
    for (const r of second) {
      const declared = (KAFKA_TOPICS[r.key] as { valueSchema?: string }).valueSchema;
      expect(r.schemaId !== undefined).toBe(declared !== undefined);
    }
  });

  it('provisions production topics with `topics apply`: exactly the documented topics, their configs, then a no-op; drift is reported', async () => {
    const env = { ...process.env, ...ctx().env, TOPIC_NAMESPACE: `${ctx().namespace}p`, TOPIC_PARTITIONS: '6', TOPIC_REPLICATION_FACTOR: '1' };
    const apply = () =>
      run('npm', ['run', '-s', 'topics', '--', 'apply'], { cwd: repoRoot(), env }).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
      );
    const names = TOPIC_KEYS.map((k) => KAFKA_TOPICS[k].name.replace(/^triggers\./, `${env.TOPIC_NAMESPACE}.`));

    const first = await apply();
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`${TOPIC_KEYS.length} created, 0 already there, 0 differ`);
    const mine = (await ctx().admin.listTopics()).filter((t) => t.startsWith(`${env.TOPIC_NAMESPACE}.`));
    expect(mine.sort()).toEqual([...names].sort());
    const meta = await ctx().admin.fetchTopicMetadata({ topics: names });
    for (const t of meta.topics) expect(t.partitions).toHaveLength(6);

    const configsOf = async (name: string) => {
      const d = await ctx().admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name }], includeSynonyms: false });
      return Object.fromEntries(d.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
    };
    const byKey = (key: keyof typeof KAFKA_TOPICS) => names[TOPIC_KEYS.indexOf(key)];
    expect(await configsOf(byKey('triggerConfig'))).toMatchObject({ 'cleanup.policy': 'compact', 'min.insync.replicas': '1' });
    expect(await configsOf(byKey('log'))).toMatchObject({ 'cleanup.policy': 'delete', 'retention.ms': String(30 * 86_400_000) });
    expect(await configsOf(byKey('webhookRetry'))).toMatchObject({ 'retention.ms': String(7 * 86_400_000) });

    const second = await apply();
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`0 created, ${TOPIC_KEYS.length} already there, 0 differ`);

    await ctx().admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: byKey('webhookRetry'), configEntries: [{ name: 'retention.ms', value: '60000' }] }],
    });
    const third = await apply();
    expect(third.code).toBe(3);
    expect(third.stdout).toContain(`retention.ms is 60000, expected ${7 * 86_400_000}`);
    await ctx().admin.deleteTopics({ topics: names });
  }, 60_000);
});
