import fc from 'fast-check';
import type { Producer, ProducerBatch } from 'kafkajs';
import { PartitionMetadata, Partitioners } from 'kafkajs';
import { BufferedProducer, KeyedPartitioner } from './producers';

const metadata = (count: number, down: number[] = []): PartitionMetadata[] =>
  Array.from({ length: count }, (_, partitionId) => ({
    partitionId,
    leader: down.includes(partitionId) ? -1 : 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));

describe('KeyedPartitioner', () => {
  it("chooses kafkajs's default partition for every string key, asked once or many times, whatever the partition count", () => {
    const keyed = KeyedPartitioner();
    const byDefault = Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 64 }), fc.nat(3), (key, count, repeats) => {
        const args = { topic: 't', partitionMetadata: metadata(count), message: { key, value: null } };
        const expected = byDefault(args);
        for (let i = 0; i <= repeats; i++) expect(keyed(args)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('follows a topic that grows, keeps a given partition, and hands other keys to the default partitioner', () => {
    const keyed = KeyedPartitioner();
    const byDefault = Partitioners.DefaultPartitioner();
    const on = (count: number, message: { key?: string | Buffer | null; partition?: number }) => ({
      topic: 't',
      partitionMetadata: metadata(count),
      message: { value: null, ...message },
    });
    const keys = Array.from({ length: 50 }, (_, i) => `tenant-${i}/trigger`);
    for (const key of keys) keyed(on(3, { key }));
    // Remembered per partition count: a topic grown to 12 partitions maps keys as the default does.
    expect(keys.map((key) => keyed(on(12, { key })))).toEqual(keys.map((key) => byDefault(on(12, { key }))));
    expect(new Set(keys.map((key) => keyed(on(12, { key })))).size).toBeGreaterThan(3);
    expect(keyed(on(3, { key: 'x', partition: 2 }))).toBe(2);
    expect(keyed(on(8, { key: Buffer.from('tenant-1/trigger') }))).toBe(byDefault(on(8, { key: 'tenant-1/trigger' })));
    // Without a key the default round-robin over available partitions applies.
    const unkeyed = new Set(Array.from({ length: 20 }, () => keyed({ ...on(4, {}), partitionMetadata: metadata(4, [1, 3]) })));
    expect([...unkeyed].sort()).toEqual([0, 2]);
  });
});

describe('BufferedProducer', () => {
  /** A producer whose requests are recorded and answered when the test says. */
  function fakeProducer() {
    const requests: { values: string[]; answer: (err?: Error) => void }[] = [];
    const producer = {
      sendBatch: (batch: ProducerBatch) =>
        new Promise<void>((resolve, reject) => {
          const values = batch.topicMessages!.flatMap((t) => t.messages.map((m) => String(m.value)));
          requests.push({ values, answer: (err) => (err ? reject(err) : resolve()) });
        }),
    } as unknown as Producer;
    return { producer, requests };
  }
  const send = (out: BufferedProducer, ...values: string[]) => out.send([{ topic: 't', messages: values.map((value) => ({ value })) }]);
  const settled = (p: Promise<void>) =>
    p.then(
      () => 'done',
      (e: Error) => `failed: ${e.message}`,
    );

  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('gathers what comes while a request is under way into the next one, sent after lingerMs', async () => {
    const { producer, requests } = fakeProducer();
    const out = new BufferedProducer(producer, { lingerMs: 10 });
    const first = settled(send(out, 'a'));
    await jest.advanceTimersByTimeAsync(10);
    expect(requests.map((r) => r.values)).toEqual([['a']]);
    const later = [settled(send(out, 'b')), settled(send(out, 'c', 'd'))];
    requests[0].answer();
    expect(await first).toBe('done');
    await jest.advanceTimersByTimeAsync(9);
    expect(requests).toHaveLength(1);
    const third = settled(send(out, 'e'));
    await jest.advanceTimersByTimeAsync(1);
    expect(requests.map((r) => r.values)).toEqual([['a'], ['b', 'c', 'd', 'e']]);
    requests[1].answer();
    expect(await Promise.all([...later, third])).toEqual(['done', 'done', 'done']);
  });

  it('sends at once when a whole request is already waiting, and fails only the callers of a failed request', async () => {
    const { producer, requests } = fakeProducer();
    // Each message counts its value and 64 bytes: two fill a request.
    const out = new BufferedProducer(producer, { lingerMs: 10, maxBatchBytes: 130 });
    const first = settled(send(out, 'a'));
    await jest.advanceTimersByTimeAsync(10);
    const rest = ['b', 'c', 'd'].map((v) => settled(send(out, v)));
    requests[0].answer(new Error('broker gone'));
    expect(await first).toBe('failed: broker gone');
    // b and c fill a request: no linger before it.
    await jest.advanceTimersByTimeAsync(0);
    expect(requests.map((r) => r.values)).toEqual([['a'], ['b', 'c']]);
    requests[1].answer();
    await jest.advanceTimersByTimeAsync(10);
    expect(requests.map((r) => r.values)).toEqual([['a'], ['b', 'c'], ['d']]);
    requests[2].answer();
    expect(await Promise.all(rest)).toEqual(['done', 'done', 'done']);
  });
});
