import fc from 'fast-check';

// The parts of kafkajs that patches/kafkajs+2.2.4.patch rewrites for allocation, checked against
// the protocol's definitions rather than against kafkajs itself.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Encoder = require('kafkajs/src/protocol/encoder') as {
  new (): { writeVarInt(v: number): unknown; writeUVarInt(v: number): unknown; writeVarLong(v: number | bigint): unknown; buffer: Buffer };
  sizeOfVarLong(v: number): number;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition') as (args: {
  topic: string;
  partitionMetadata: unknown[];
  messages: { key: string }[];
  partitioner: (args: { message: { key: string } }) => number;
}) => Record<string, { key: string }[]>;

/** Kafka's varint: unsigned LEB128, 7 bits a byte, low group first. */
function leb128(n: bigint): Buffer {
  const bytes: number[] = [];
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (n !== 0n);
  return Buffer.from(bytes);
}

/** Kafka's signed varint and varlong: zig-zag, then LEB128. */
const zigzag = (v: bigint, bits: bigint) => BigInt.asUintN(Number(bits), (v << 1n) ^ (v >> (bits - 1n)));

describe('kafkajs as patched', () => {
  it('writes signed varints and varlongs as the protocol defines them, small or large', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v) => {
        const int = new Encoder();
        int.writeVarInt(v);
        expect(int.buffer).toEqual(leb128(zigzag(BigInt(v), 32n)));
        const long = new Encoder();
        long.writeVarLong(v);
        expect(long.buffer).toEqual(leb128(zigzag(BigInt(v), 64n)));
        expect(Encoder.sizeOfVarLong(v)).toBe(long.buffer.length);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.maxSafeInteger(), (v) => {
        const long = new Encoder();
        long.writeVarLong(v);
        expect(long.buffer).toEqual(leb128(zigzag(BigInt(v), 64n)));
        expect(Encoder.sizeOfVarLong(v)).toBe(long.buffer.length);
      }),
      { numRuns: 3000 },
    );
  });

  it('writes unsigned varints up to 2^32 - 1 in at most five bytes, growing its buffer as it goes', () => {
    const encoder = new Encoder();
    const values = [0, 1, 127, 128, 16_383, 16_384, 2 ** 28, 2 ** 32 - 1, ...Array.from({ length: 500 }, (_, i) => i * 8_589_934)];
    for (const v of values) encoder.writeUVarInt(v);
    expect(encoder.buffer).toEqual(Buffer.concat(values.map((v) => leb128(BigInt(v)))));
    expect(leb128(BigInt(2 ** 32 - 1))).toHaveLength(5);
  });

  it('groups a batch by partition, every message once and in the order it came', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(7), fc.string()), { maxLength: 3000 }), (pairs) => {
        const messages = pairs.map(([partition, key]) => ({ key: `${partition}:${key}` }));
        const grouped = groupMessagesPerPartition({
          topic: 't',
          partitionMetadata: [{}],
          messages,
          partitioner: ({ message }) => Number(message.key.split(':')[0]),
        });
        for (let p = 0; p < 8; p++) expect(grouped[p] ?? []).toEqual(messages.filter((m) => m.key.startsWith(`${p}:`)));
        expect(Object.values(grouped).flat()).toHaveLength(messages.length);
      }),
      { numRuns: 200 },
    );
  });
});
