import type { KafkaMessage } from 'kafkajs';
import { HEADERS, WebhookCommand, dueAtOf } from '@triggers/contracts';
import { WindowedConsumer, WindowedConsumerOptions, createIdempotentProducer, createTopicsAndWait } from '@triggers/kafka';
import { createLogger } from '@triggers/logging';
import { countRecords, readTopic, testWebhookCommand, uniqueId, useTestContext, waitFor } from '@triggers/testing';

/** The consume loop of the webhook dispatcher, on its own against the real broker. */
describe('WindowedConsumer', () => {
  const ctx = useTestContext();
  const logger = createLogger({ app: 'test', level: 'silent' });
  /** A consumer of webhook commands on `topic` in `groupId`, with the test's handler and options. */
  const windowed = (
    topic: string,
    groupId: string,
    options: Pick<WindowedConsumerOptions<WebhookCommand>, 'handle'> & Partial<WindowedConsumerOptions<WebhookCommand>>,
  ) =>
    new WindowedConsumer<WebhookCommand>({
      kafka: ctx().kafka,
      groupId,
      topics: [topic],
      logger,
      serde: ctx().serde,
      records: 'webhookCommands',
      deadLetterTopic: `${topic}.dlq`,
      maxInFlight: 10,
      transactionalIdPrefix: groupId,
      outputTopics: [],
      ...options,
    });

  /** A fresh input topic of `partitions` and a one-partition topic for what handling makes. */
  const inputAndOutput = async (name: string, partitions: number) => {
    const topic = `${ctx().namespace}.${name}`;
    const output = `${topic}.out`;
    await createTopicsAndWait(ctx().admin, [
      { topic, numPartitions: partitions },
      { topic: output, numPartitions: 1 },
    ]);
    return { topic, output };
  };

  it('handles a delayed message once it is due, even after its paused partition moved away and came back', async () => {
    const topic = `${ctx().namespace}.delayed`;
    await createTopicsAndWait(ctx().admin, [{ topic, numPartitions: 2 }]);
    const dueAt = Date.now() + 8_000;
    const producer = createIdempotentProducer(ctx().kafka);
    await producer.connect();
    const command = (eventId: string) => testWebhookCommand({ eventId });
    const messages = await Promise.all(
      [0, 1].map(async (partition) => ({
        partition,
        key: `k${partition}`,
        value: await ctx().serde.encode('webhookCommands', command(`v${partition}`)),
        headers: { [HEADERS.dueAt]: String(dueAt) },
      })),
    );
    await producer.send({ topic, messages });
    await producer.disconnect();

    const handled: { value: string; at: number }[] = [];
    const groupId = uniqueId('windowed');
    const consumer = () =>
      windowed(topic, groupId, {
        sessionTimeoutMs: 6000,
        dueAt: (m: KafkaMessage) => dueAtOf(m.headers)!,
        handle: async (c) => void handled.push({ value: c.eventId, at: Date.now() }),
      });
    const a = consumer();
    await a.start();
    await waitFor(() => a.waiting().length === 2, { timeoutMs: 20_000, description: 'both partitions paused until due' });
    // A second member takes one paused partition, then leaves before it is due: it returns to
    // the first member, which must read it again rather than leave it paused for ever.
    const b = consumer();
    await b.start();
    await waitFor(() => (a.assignment()?.[topic]?.length ?? 0) === 1, { timeoutMs: 20_000, description: 'the group to split the partitions' });
    await b.stop();
    await waitFor(() => (a.assignment()?.[topic]?.length ?? 0) === 2, { timeoutMs: 20_000, description: 'the partition to come back' });
    try {
      await waitFor(() => handled.length === 2, { timeoutMs: 20_000, description: 'both messages handled' });
      expect(handled.map((h) => h.value).sort()).toEqual(['v0', 'v1']);
      for (const h of handled) expect(h.at).toBeGreaterThanOrEqual(dueAt);
    } finally {
      await a.stop(1000);
    }
  }, 60_000);

  it('commits past a tail of transaction markers, which reaches no eachBatch, so its lag reaches 0', async () => {
    const topic = `${ctx().namespace}.markers`;
    await createTopicsAndWait(ctx().admin, [{ topic, numPartitions: 1 }]);
    const producer = ctx().kafka.producer({ transactionalId: uniqueId('tx'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ key: 'k', value: await ctx().serde.encode('webhookCommands', testWebhookCommand({ eventId: 'one' })) }] });
    await committed.commit();

    const handled: string[] = [];
    const groupId = uniqueId('windowed');
    const consumer = windowed(topic, groupId, { commitIntervalMs: 100, handle: async (c) => void handled.push(c.eventId) });
    await consumer.start();
    try {
      await waitFor(() => handled.length === 1, { timeoutMs: 20_000, description: 'the message handled' });
      // Aborted transactions on the partition with nothing in them: markers only (as a new owner
      // of a matcher partition writes), fetched on their own.
      for (let i = 0; i < 3; i++) {
        const markers = await producer.transaction();
        await markers.addPartitions([{ topic, partitions: [{ partition: 0 }] }]);
        await markers.abort();
      }
      // The end is read again each time: the last abort's marker may land after abort() returns.
      let end = '';
      await waitFor(
        async () => {
          [{ high: end }] = await ctx().admin.fetchTopicOffsets(topic);
          const [offsets] = await ctx().admin.fetchOffsets({ groupId, topics: [topic] });
          return Number(end) > 2 && offsets.partitions[0].offset === end;
        },
        { timeoutMs: 20_000, description: 'the committed offset at the end of the partition, past the markers' },
      );
      expect(handled).toEqual(['one']);
    } finally {
      await consumer.stop();
      await producer.disconnect();
    }
  });

  it('writes what each message made once, with its offset: a partition that moves before its commit is handled again by its new owner, and only that handling is written', async () => {
    const { topic, output } = await inputAndOutput('moved', 2);
    const producer = createIdempotentProducer(ctx().kafka);
    await producer.connect();
    const ids = Array.from({ length: 20 }, (_, i) => `m${i}`);
    await producer.send({
      topic,
      messages: await Promise.all(
        ids.map(async (id, i) => ({ partition: i % 2, key: id, value: await ctx().serde.encode('webhookCommands', testWebhookCommand({ eventId: id })) })),
      ),
    });
    await producer.disconnect();

    const handled: string[] = [];
    const groupId = uniqueId('windowed');
    const consumer = (commitIntervalMs: number) =>
      windowed(topic, groupId, {
        outputTopics: [output],
        sessionTimeoutMs: 6000,
        commitIntervalMs,
        handle: async (c, _m, _source, out) => {
          handled.push(c.eventId);
          out.push(output, { key: c.eventId, value: c.eventId });
        },
      });
    // The first owner handles everything and commits nothing until it stops.
    const a = consumer(600_000);
    await a.start();
    const b = consumer(100);
    try {
      await waitFor(() => handled.length === 20, { timeoutMs: 20_000, description: 'every message handled once' });
      expect(await countRecords(ctx().kafka, output)).toBe(0);
      // A second member takes one partition: its messages were handled, and are again by their new owner.
      await b.start();
      await waitFor(() => handled.length === 30, { timeoutMs: 30_000, description: 'the moved partition handled again' });
    } finally {
      await a.stop(1000);
      await b.stop(1000);
    }
    const written = (await readTopic(ctx().kafka, output, { expected: 21, timeoutMs: 5000 })).map((m) => m.value!.toString());
    expect(written.sort()).toEqual([...ids].sort());
    const [offsets] = await ctx().admin.fetchOffsets({ groupId, topics: [topic] });
    expect(offsets.partitions.map((p) => p.offset).sort()).toEqual(['10', '10']);
  }, 90_000);

  it('ends what a previous owner left open on a partition with no traffic, so readers of what it wrote are not held', async () => {
    const { topic, output } = await inputAndOutput('idle', 1);
    const groupId = uniqueId('windowed');
    // The previous owner of the idle partition wrote in a transaction and died before ending it
    // (it would be aborted only after its 60 s timeout); a record written after it is invisible
    // to read_committed readers meanwhile.
    const crashed = ctx().kafka.producer({ transactionalId: `${groupId}-${topic}-0`, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000 });
    await crashed.connect();
    const open = await crashed.transaction();
    await open.send({ topic: output, messages: [{ key: 'k', value: 'left open' }] });
    const plain = createIdempotentProducer(ctx().kafka);
    await plain.connect();
    await plain.send({ topic: output, messages: [{ key: 'k', value: 'after it' }] });
    await plain.disconnect();
    expect(await readTopic(ctx().kafka, output, { expected: 1, timeoutMs: 2000 })).toEqual([]);

    const consumer = windowed(topic, groupId, { outputTopics: [output], commitIntervalMs: 100, handle: async () => undefined });
    await consumer.start();
    try {
      // Taking the partition opens its transactional id, which aborts what was left, well before the timeout.
      const seen = await readTopic(ctx().kafka, output, { expected: 1, timeoutMs: 20_000 });
      expect(seen.map((m) => m.value?.toString())).toEqual(['after it']);
    } finally {
      await consumer.stop();
      await crashed.disconnect().catch(() => undefined);
    }
  }, 60_000);
});
