import { Partitioners } from 'kafkajs';
import { TransactionalProcessor, createTopicsAndWait } from '@triggers/kafka';
import { TestContext, createTestContext, readTopic, uniqueId, waitFor } from '@triggers/testing';

describe('Kafka transactions on the local single-node broker', () => {
  let ctx: TestContext;
  let input: string;
  let output: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    input = `${ctx.namespace}.in`;
    output = `${ctx.namespace}.out`;
    await createTopicsAndWait(ctx.admin, [
      { topic: input, numPartitions: 2 },
      { topic: output, numPartitions: 2 },
    ]);
  });

  afterAll(() => ctx.close());

  it('hides an aborted transaction from read_committed readers', async () => {
    const topic = `${ctx.namespace}.abort`;
    await createTopicsAndWait(ctx.admin, [{ topic, numPartitions: 1 }]);
    const producer = ctx.kafka.producer({
      transactionalId: uniqueId('tx'),
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ value: 'aborted' }] });
    await aborted.abort();
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ value: 'committed' }] });
    await committed.commit();
    await producer.disconnect();

    const uncommitted = await readTopic(ctx.kafka, topic, { expected: 2, readUncommitted: true });
    expect(uncommitted.map((m) => m.value?.toString())).toEqual(['aborted', 'committed']);
    const visible = await readTopic(ctx.kafka, topic, { expected: 1, timeoutMs: 3_000 });
    expect(visible.map((m) => m.value?.toString())).toEqual(['committed']);
  });

  it('consumes, produces and commits offsets in one transaction per batch', async () => {
    const producer = ctx.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const words = Array.from({ length: 50 }, (_, i) => `word-${i}`);
    await producer.send({ topic: input, messages: words.map((w) => ({ key: w, value: w })) });
    await producer.disconnect();

    const groupId = uniqueId('g');
    const processor = new TransactionalProcessor({
      kafka: ctx.kafka,
      groupId,
      transactionalIdPrefix: uniqueId('tx'),
      topics: [input],
      logger: ctx.logger,
      transform: async (messages) => [
        { topic: output, messages: messages.map((m) => ({ key: m.key, value: m.value!.toString().toUpperCase() })) },
      ],
    });
    await processor.start();
    try {
      const out = await readTopic(ctx.kafka, output, { expected: words.length });
      expect(out.map((m) => m.value!.toString()).sort()).toEqual(words.map((w) => w.toUpperCase()).sort());
      // The consumed offsets were committed by the transactions: the group has reached the end.
      await waitFor(async () => {
        const [offsets] = await ctx.admin.fetchOffsets({ groupId, topics: [input] });
        const ends = await ctx.admin.fetchTopicOffsets(input);
        return offsets.partitions.every((p) => p.offset === ends.find((e) => e.partition === p.partition)!.offset);
      }, { description: 'committed offsets at the end of the input topic' });
    } finally {
      await processor.stop();
    }
  });

  it('commits nothing when the transform fails, so the batch is consumed again', async () => {
    const topicIn = `${ctx.namespace}.retry-in`;
    const topicOut = `${ctx.namespace}.retry-out`;
    await createTopicsAndWait(ctx.admin, [{ topic: topicIn }, { topic: topicOut }]);
    const producer = ctx.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic: topicIn, messages: [{ value: 'only' }] });
    await producer.disconnect();

    let calls = 0;
    const processor = new TransactionalProcessor({
      kafka: ctx.kafka,
      groupId: uniqueId('g'),
      transactionalIdPrefix: uniqueId('tx'),
      topics: [topicIn],
      logger: ctx.logger,
      transform: async (messages) => {
        calls += 1;
        if (calls === 1) throw new Error('transient failure');
        return [{ topic: topicOut, messages: messages.map((m) => ({ value: m.value })) }];
      },
    });
    await processor.start();
    try {
      const out = await readTopic(ctx.kafka, topicOut, { expected: 1 });
      expect(out.map((m) => m.value!.toString())).toEqual(['only']);
      expect(calls).toBeGreaterThanOrEqual(2);
    } finally {
      await processor.stop();
    }
  });
});
