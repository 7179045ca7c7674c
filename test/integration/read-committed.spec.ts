import { Partitioners, Producer } from 'kafkajs';
import { WebhookCommand } from '@triggers/contracts';
import { BatchConsumer, createTopicsAndWait } from '@triggers/kafka';
import { testWebhookCommand, uniqueId, useTestContext, waitFor } from '@triggers/testing';

/**
 * kafkajs 2.2.4's read_committed filter returned records of aborted transactions when the
 * transactions of two producers overlap on a partition and the second to start aborts first (the
 * broker lists aborted transactions by abort, not by start). The project's patch orders them by
 * first offset; this reproduces the overlap through the project's own consumer engine.
 */
describe('read_committed with overlapping aborted transactions', () => {
  const ctx = useTestContext();

  /** The project's batch consumer over `topic`, pushing each record's event id to `seen`. */
  const readEventIds = (topic: string, groupId: string, seen: string[]) =>
    new BatchConsumer<WebhookCommand>({
      kafka: ctx().kafka,
      groupId,
      topics: [topic],
      logger: ctx().logger,
      serde: ctx().serde,
      records: 'webhookCommands',
      deadLetterTopic: `${topic}.dlq`,
      handle: async (records) => void seen.push(...records.map((r) => r.value.eventId)),
    });

  it('returns no record of any aborted transaction', async () => {
    const topic = `${ctx().namespace}.overlap`;
    await createTopicsAndWait(ctx().admin, [
      { topic, numPartitions: 1 },
      { topic: `${topic}.dlq`, numPartitions: 1 },
    ]);
    const value = (eventId: string) => ctx().serde.encode('webhookCommands', testWebhookCommand({ eventId }));
    const transactional = async () => {
      const p = ctx().kafka.producer({
        transactionalId: uniqueId('tx'),
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await p.connect();
      return p;
    };
    const [first, second, third]: Producer[] = [await transactional(), await transactional(), await transactional()];
    try {
      // first starts, second starts, second aborts, first aborts, then a committed record.
      const t1 = await first.transaction();
      await t1.send({ topic, messages: [{ key: 'k', value: await value('aborted-first-1') }] });
      const t2 = await second.transaction();
      await t2.send({ topic, messages: [{ key: 'k', value: await value('aborted-second') }] });
      await t1.send({ topic, messages: [{ key: 'k', value: await value('aborted-first-2') }] });
      await t2.abort();
      await t1.abort();
      const t3 = await third.transaction();
      await t3.send({ topic, messages: [{ key: 'k', value: await value('committed') }] });
      await t3.commit();
    } finally {
      await Promise.all([first, second, third].map((p) => p.disconnect()));
    }

    const seen: string[] = [];
    const consumer = readEventIds(topic, uniqueId('rc'), seen);
    await consumer.start();
    try {
      await waitFor(() => seen.includes('committed'), { timeoutMs: 20_000, description: 'the committed record' });
      expect(seen).toEqual(['committed']);
    } finally {
      await consumer.stop();
    }
  });

  it('commits past the transaction markers and aborted records: the group reaches the end of the topic', async () => {
    const topic = `${ctx().namespace}.markers`;
    await createTopicsAndWait(ctx().admin, [
      { topic, numPartitions: 1 },
      { topic: `${topic}.dlq`, numPartitions: 1 },
    ]);
    const producer = ctx().kafka.producer({
      transactionalId: uniqueId('tx'),
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    try {
      const committed = await producer.transaction();
      await committed.send({ topic, messages: [{ key: 'k', value: await ctx().serde.encode('webhookCommands', testWebhookCommand({ eventId: 'kept' })) }] });
      await committed.commit();
      // The topic ends in an aborted transaction: its record and marker are never read.
      const aborted = await producer.transaction();
      await aborted.send({ topic, messages: [{ key: 'k', value: await ctx().serde.encode('webhookCommands', testWebhookCommand({ eventId: 'dropped' })) }] });
      await aborted.abort();
    } finally {
      await producer.disconnect();
    }
    const groupId = uniqueId('markers');
    const seen: string[] = [];
    const consumer = readEventIds(topic, groupId, seen);
    await consumer.start();
    try {
      // Offsets 0 (kept), 1 (its commit marker), 2 (dropped), 3 (its abort marker): the end is 4.
      const [{ high }] = await ctx().admin.fetchTopicOffsets(topic);
      expect(high).toBe('4');
      await waitFor(
        async () => {
          const [{ partitions }] = await ctx().admin.fetchOffsets({ groupId, topics: [topic] });
          return partitions[0].offset === high;
        },
        { timeoutMs: 20_000, description: 'the group committed to the end of the topic' },
      );
      expect(seen).toEqual(['kept']);
    } finally {
      await consumer.stop();
    }
  });
});
