import { Partitioners } from 'kafkajs';
import type { KafkaMessage } from 'kafkajs';
import { loadInfraConfig } from '@triggers/config';
import type { WebhookCommand } from '@triggers/contracts';
import { TransactionalProcessor, createTopicsAndWait } from '@triggers/kafka';
import { LocalInfra, repoRoot, testWebhookCommand, uniqueId, useTestContext, waitFor } from '@triggers/testing';

/** Input partitions, one previous owner (one transactional id) each: their commits sweep the broker's shutdown. */
const INPUT_PARTITIONS = 100;
/** Between two previous owners' commits: 100 of them cover the 300 ms after the broker is told to stop. */
const COMMIT_SPACING_MS = 3;
const PER_PARTITION = 2;
/**
 * Sweeps tried, each with a fresh input topic, until one leaves a transaction open: 6 of the
 * first 15 did, so 15 of them all miss about once in 2,000 runs.
 */
const SWEEPS = 15;
const OUTPUT_PARTITIONS = 3;
/** The last message of each input partition: the new owner answers it with one message on every output partition, after all the rest. */
const END = 'end';
/** Written straight to every output partition after the outage, to see whether a transaction holds back what follows it. */
const PROBE = 'probe';
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A lone broker in controlled shutdown takes leadership away from its partitions, and a
 * transaction whose commit it takes in the next few milliseconds is recorded as committed while
 * its markers are skipped ("Couldn't find leader endpoint ... likely deleted"): its records and
 * its offset commit stay pending, and the next marker of the same producer id commits them. The
 * next owner of the input partition must not process that batch again and commit it a second time.
 */
describe('a transaction whose markers a stopping broker skipped', () => {
  const ctx = useTestContext();
  const infra = new LocalInfra(loadInfraConfig(process.env, repoRoot(), 'faults'), repoRoot());
  let processor: TransactionalProcessor<WebhookCommand> | undefined;
  afterAll(() => processor?.stop());

  it('is ended by the next owner of its partition, whose output then holds every batch once', async () => {
    const output = `${ctx().namespace}.out`;
    const dlq = `${ctx().namespace}.dlq`;
    await createTopicsAndWait(ctx().admin, [
      { topic: output, numPartitions: OUTPUT_PARTITIONS },
      { topic: dlq, numPartitions: 1 },
    ]);
    const groupId = uniqueId('g');
    const prefix = uniqueId('tx');
    /** The events of one input partition, named after their topic (earlier sweeps' copies stay on the output), then the end. */
    const eventIds = (input: string, partition: number) => [...range(PER_PARTITION).map((i) => `${input}/${partition}-${i}`), END];

    /**
     * One try: a fresh input topic whose partitions each have a previous owner that copies its
     * events as the processor does (the output and the consumed offset in one transaction) and has
     * everything but the commit done when the broker is told to stop; the commits then reach the
     * broker one by one across its shutdown. Returns how many output partitions a transaction of
     * theirs holds back afterwards.
     */
    const sweep = async (input: string): Promise<number> => {
      await createTopicsAndWait(ctx().admin, [{ topic: input, numPartitions: INPUT_PARTITIONS }]);
      // Idempotent: a retried send (the topic's leaders are still settling) must not write twice.
      const feeder = ctx().kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      await feeder.connect();
      const encode = (eventId: string) => ctx().serde.encode('webhookCommands', testWebhookCommand({ eventId }));
      const messages = await Promise.all(
        range(INPUT_PARTITIONS).flatMap((partition) => eventIds(input, partition).map(async (eventId) => ({ partition, value: await encode(eventId) }))),
      );
      await feeder.send({ topic: input, messages });
      await feeder.disconnect();
      const transactionalId = (partition: number) => `${prefix}-${input}-${partition}`;

      const owners = await Promise.all(
        range(INPUT_PARTITIONS).map(async (partition) => {
          const producer = ctx().kafka.producer({
            transactionalId: transactionalId(partition),
            idempotent: true,
            maxInFlightRequests: 1,
            retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 },
            createPartitioner: Partitioners.DefaultPartitioner,
          });
          await producer.connect();
          const transaction = await producer.transaction();
          const ids = eventIds(input, partition).slice(0, PER_PARTITION);
          await transaction.send({ topic: output, messages: ids.map((id) => ({ key: id, value: id })) });
          await transaction.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition, offset: String(PER_PARTITION) }] }] });
          return { producer, transaction };
        }),
      );
      const stopping = infra.down(['kafka']);
      await Promise.all(owners.map(({ transaction }, i) => sleep(i * COMMIT_SPACING_MS).then(() => transaction.commit().catch(() => undefined))));
      await stopping;
      await Promise.all(owners.map(({ producer }) => producer.disconnect().catch(() => undefined)));
      await infra.up(['kafka']);

      // Opening each transactional id makes the broker finish what it still can (it sends the
      // markers of a commit it had begun again, and aborts what was left open). A transaction
      // whose markers it skipped stays open and holds read_committed readers back at its start:
      // the stable end of its partition stays below a record written after it.
      for (const partition of range(INPUT_PARTITIONS)) {
        const fence = ctx().kafka.producer({ transactionalId: transactionalId(partition), idempotent: true, maxInFlightRequests: 1 });
        await fence.connect();
        await (await fence.transaction()).abort();
        await fence.disconnect();
      }
      const probe = ctx().kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await probe.connect();
      const probes = await probe.send({ topic: output, messages: range(OUTPUT_PARTITIONS).map((partition) => ({ partition, value: PROBE })) });
      await probe.disconnect();
      const stable = await ctx().admin.fetchTopicOffsets(output);
      return probes.filter((w) => BigInt(stable.find((s) => s.partition === w.partition)!.offset) <= BigInt(w.baseOffset!)).length;
    };

    let input = '';
    let heldBack = 0;
    for (let attempt = 1; attempt <= SWEEPS && heldBack === 0; attempt++) {
      input = `${ctx().namespace}.in${attempt}`;
      heldBack = await sweep(input);
      process.stdout.write(`[hanging] sweep ${attempt}: ${heldBack} output partitions held back\n`);
    }
    expect(heldBack).toBeGreaterThan(0);

    // The next owner takes the partitions over and copies them; each input partition's last
    // message makes one message on every output partition, after everything else it commits there.
    processor = new TransactionalProcessor<WebhookCommand>({
      kafka: ctx().kafka,
      groupId,
      transactionalIdPrefix: prefix,
      logger: ctx().logger,
      serde: ctx().serde,
      records: 'webhookCommands',
      topics: [input],
      outputTopics: [output],
      deadLetterTopic: dlq,
      partitionsConsumedConcurrently: 10,
      handler: {
        handle: ({ eventId }, m, source, out) => {
          if (eventId !== END) return out.push(output, { key: eventId, value: eventId });
          for (const partition of range(OUTPUT_PARTITIONS)) out.push(output, { partition, value: END });
        },
      },
    });
    await processor.start();

    const seen: KafkaMessage[] = [];
    const reader = ctx().kafka.consumer({ groupId: uniqueId('reader'), maxWaitTimeInMs: 200 });
    await reader.connect();
    try {
      await reader.subscribe({ topic: output, fromBeginning: true });
      await reader.run({ eachMessage: async ({ message }) => void seen.push(message) });
      const ends = () => seen.filter((m) => m.value?.toString() === END).length;
      const expectedEnds = INPUT_PARTITIONS * OUTPUT_PARTITIONS;
      await waitFor(() => ends() === expectedEnds, {
        timeoutMs: 180_000,
        description: `the end of every input partition on every output partition (${ends()} of ${expectedEnds})`,
      });
    } finally {
      await reader.disconnect();
    }
    const copies = new Map<string, number>();
    for (const m of seen) copies.set(m.value!.toString(), (copies.get(m.value!.toString()) ?? 0) + 1);
    const copied = [...copies].filter(([id]) => id.startsWith(`${input}/`));
    expect({ twice: copied.filter(([, n]) => n > 1).map(([id]) => id), copied: copied.length }).toEqual({
      twice: [],
      copied: INPUT_PARTITIONS * PER_PARTITION,
    });
    const ours = seen.filter((m) => m.value!.toString() === END || m.value!.toString().startsWith(`${input}/`));
    expect(ours).toHaveLength(INPUT_PARTITIONS * (PER_PARTITION + OUTPUT_PARTITIONS));
  }, 600_000);
});
