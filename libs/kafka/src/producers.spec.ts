import fc from 'fast-check';
import { PartitionMetadata, Partitioners } from 'kafkajs';
import { KeyedPartitioner } from './producers';

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
