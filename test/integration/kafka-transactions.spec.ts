import { KafkaJSConnectionError, Partitioners } from 'kafkajs';
import type { Kafka, Producer } from 'kafkajs';
import { WebhookCommand } from '@triggers/contracts';
import { TransientError } from '@triggers/errors';
import { TransactionalProcessor, TransactionalProcessorOptions, createTopicsAndWait } from '@triggers/kafka';
import { TestContext, createTestContext, readTopic, testWebhookCommand, uniqueId, waitFor } from '@triggers/testing';

/** Webhook commands as Avro input (the engines decode what they consume), keyed by their event id. */
async function sendCommands(ctx: TestContext, topic: string, eventIds: string[]): Promise<void> {
  const producer = ctx.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const messages = await Promise.all(
    eventIds.map(async (eventId) => ({
      key: eventId,
      value: await ctx.serde.encode('webhookCommands', testWebhookCommand({ eventId })),
    })),
  );
  await producer.send({ topic, messages });
  await producer.disconnect();
}

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

  /** A processor of webhook commands on the test context, with a fresh group and transactional ids unless given. */
  const commandsProcessor = (
    options: Pick<TransactionalProcessorOptions<WebhookCommand>, 'topics' | 'outputTopics' | 'deadLetterTopic' | 'handler'> &
      Partial<TransactionalProcessorOptions<WebhookCommand>>,
  ) =>
    new TransactionalProcessor<WebhookCommand>({
      kafka: ctx.kafka,
      groupId: uniqueId('g'),
      transactionalIdPrefix: uniqueId('tx'),
      logger: ctx.logger,
      serde: ctx.serde,
      records: 'webhookCommands',
      ...options,
    });

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
    const words = Array.from({ length: 50 }, (_, i) => `word-${i}`);
    await sendCommands(ctx, input, words);

    const groupId = uniqueId('g');
    const processor = commandsProcessor({
      groupId,
      topics: [input],
      outputTopics: [output],
      deadLetterTopic: `${ctx.namespace}.dlq`,
      handler: { handle: (command, m, source, out) => out.push(output, { key: m.key, value: command.eventId.toUpperCase() }) },
    });
    await processor.start();
    try {
      const out = await readTopic(ctx.kafka, output, { expected: words.length });
      expect(out.map((m) => m.value!.toString()).sort()).toEqual(words.map((w) => w.toUpperCase()).sort());
      // The consumed offsets were committed by the transactions: the group has reached the end.
      await waitFor(
        async () => {
          const [offsets] = await ctx.admin.fetchOffsets({ groupId, topics: [input] });
          const ends = await ctx.admin.fetchTopicOffsets(input);
          return offsets.partitions.every((p) => p.offset === ends.find((e) => e.partition === p.partition)!.offset);
        },
        { description: 'committed offsets at the end of the input topic' },
      );
    } finally {
      await processor.stop();
    }
  });

  it('waits out a transient failure and makes the output once; a message that throws anything else is dead-lettered alone', async () => {
    const topicIn = `${ctx.namespace}.retry-in`;
    const topicOut = `${ctx.namespace}.retry-out`;
    const dlq = `${ctx.namespace}.retry-dlq`;
    await createTopicsAndWait(ctx.admin, [{ topic: topicIn }, { topic: topicOut }, { topic: dlq }]);
    await sendCommands(ctx, topicIn, ['first', 'bad', 'last']);

    let calls = 0;
    const processor = commandsProcessor({
      topics: [topicIn],
      outputTopics: [topicOut],
      deadLetterTopic: dlq,
      retryMinMs: 50,
      handler: {
        handle: (command, m, source, out) => {
          out.push(topicOut, { value: command.eventId });
          if (command.eventId === 'first' && ++calls < 3) throw new TransientError('the store is down', { dependency: 'store' });
          if (command.eventId === 'bad') throw new TypeError("Cannot read properties of null (reading 'type')");
        },
      },
    });
    await processor.start();
    try {
      const out = await readTopic(ctx.kafka, topicOut, { expected: 2, timeoutMs: 20_000 });
      expect(out.map((m) => m.value!.toString())).toEqual(['first', 'last']);
      expect(calls).toBe(3);
      const dead = await readTopic(ctx.kafka, dlq, { expected: 1 });
      expect(dead[0].headers!['dlq-error-class']!.toString()).toBe('TypeError');
      expect(dead[0].headers!['dlq-source-offset']!.toString()).toBe('1');
    } finally {
      await processor.stop();
    }
  });

  it('makes the output of a batch once when its commit reached the broker but the answer was lost', async () => {
    const topicIn = `${ctx.namespace}.lost-in`;
    const topicOut = `${ctx.namespace}.lost-out`;
    await createTopicsAndWait(ctx.admin, [{ topic: topicIn }, { topic: topicOut }]);
    const words = Array.from({ length: 20 }, (_, i) => `lost-${i}`);
    await sendCommands(ctx, topicIn, words);

    // The first commit is made for real, then reported failed, as when a broker restarts before it answers.
    let lost = 0;
    const losingKafka = Object.create(ctx.kafka) as Kafka;
    losingKafka.producer = (config) => {
      const producer: Producer = ctx.kafka.producer(config);
      const transaction = producer.transaction.bind(producer);
      producer.transaction = async () => {
        const tx = await transaction();
        const commit = tx.commit.bind(tx);
        tx.commit = async () => {
          await commit();
          if (lost++ === 0) throw new KafkaJSConnectionError('Connection closed (the answer to EndTxn was lost)');
        };
        return tx;
      };
      return producer;
    };
    const processor = commandsProcessor({
      kafka: losingKafka,
      topics: [topicIn],
      outputTopics: [topicOut],
      deadLetterTopic: `${ctx.namespace}.lost-dlq`,
      handler: { handle: (command, m, source, out) => out.push(topicOut, { value: command.eventId }) },
    });
    await processor.start();
    try {
      await waitFor(() => lost === 1, { description: 'the lost commit' });
      // A message sent after it comes out after any repeat of what the lost commit held.
      await sendCommands(ctx, topicIn, ['after']);
      const out = await readTopic(ctx.kafka, topicOut, { expected: words.length + 1, timeoutMs: 20_000 });
      expect(out.map((m) => m.value!.toString())).toEqual([...words, 'after']);
    } finally {
      await processor.stop();
    }
  });
});
