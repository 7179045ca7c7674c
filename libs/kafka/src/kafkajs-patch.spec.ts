import fc from 'fast-check';

// The parts of kafkajs that our patches rewrite (patches/README.md: 003, the admin requests; 004,
// the request queue's delay; 005-008, encoding for allocation), checked against the protocol's
// definitions rather than against kafkajs itself.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Encoder = require('kafkajs/src/protocol/encoder') as {
  new (): KafkaEncoder;
  sizeOfVarLong(v: number): number;
};
interface KafkaEncoder {
  writeVarInt(v: number): unknown;
  writeUVarInt(v: number): unknown;
  writeVarLong(v: number | bigint): unknown;
  writeInt32(v: number): KafkaEncoder;
  writeBuffer(v: Buffer): KafkaEncoder;
  writeEncoder(v: KafkaEncoder): KafkaEncoder;
  writeArray(v: KafkaEncoder[]): KafkaEncoder;
  size(): number;
  buffers(): Buffer[];
  buffer: Buffer;
  buf: Buffer;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const createRequest = require('kafkajs/src/protocol/request') as (args: {
  correlationId: number;
  clientId: string;
  request: { apiKey: number; apiVersion: number; encode(): Promise<KafkaEncoder> };
}) => Promise<KafkaEncoder>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition') as (args: {
  topic: string;
  partitionMetadata: unknown[];
  messages: { key: string }[];
  partitioner: (args: { message: { key: string } }) => number;
}) => Record<string, { key: string }[]>;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C') as (buffer: Buffer) => number;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch(args: Record<string, unknown>): Promise<{ buffer: Buffer }>;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (decoder: unknown) => Promise<{
  firstTimestamp: string;
  lastOffsetDelta: number;
  producerId: string;
  inTransaction: boolean;
  records: { offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer | Buffer[]> }[];
}>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown;

type ProtocolDefinitions = { versions: string[]; protocol(v: { version: number }): (args: object) => ProtocolRequest };
interface ProtocolRequest {
  request: { apiKey: number; apiVersion: number; encode(): Promise<KafkaEncoder> };
  response: { decode(b: Buffer): Promise<unknown>; parse(d: unknown): Promise<unknown> };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { requests } = require('kafkajs/src/protocol/requests') as { requests: Record<string, ProtocolDefinitions> };

/** Kafka's compact (flexible-version) primitives, written from the protocol's definition. */
const compact = {
  uvarint(n: number): Buffer {
    const bytes: number[] = [];
    while (n >= 0x80) {
      bytes.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    bytes.push(n);
    return Buffer.from(bytes);
  },
  string(s: string | null): Buffer {
    if (s === null) return compact.uvarint(0);
    const b = Buffer.from(s, 'utf8');
    return Buffer.concat([compact.uvarint(b.length + 1), b]);
  },
  array(items: Buffer[]): Buffer {
    return Buffer.concat([compact.uvarint(items.length + 1), ...items]);
  },
  /** An empty tagged-field section. */
  tags: Buffer.from([0]),
};
const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
};

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** CRC-32C from its definition: reflected polynomial 0x82F63B78, one bit at a time. */
function crc32CByBits(buffer: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of buffer) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

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
  it("takes an encoder's buffer from Node's pool, without zero filling (Buffer.alloc never pools)", () => {
    // 512 bytes, under half the pool's size: Buffer.allocUnsafe slices it out of the shared pool.
    expect(new Encoder().buf.buffer.byteLength).toBe(Buffer.poolSize);
    expect(Buffer.alloc(512).buffer.byteLength).toBe(512);
  });

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

  it('writes a large encoder into another by reference, with the same bytes as a copy', async () => {
    // A tree of encoders as a produce request nests them (request > topics > partitions), of
    // sizes on both sides of the by-reference threshold (16 KiB), read as buffers or as one.
    const leaf = fc.uint8Array({ maxLength: 40_000 }).map((b) => Buffer.from(b));
    type Tree = Buffer | Tree[];
    const tree = fc.letrec<{ node: Tree }>((tie) => ({
      node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('node'), { maxLength: 4 })),
    })).node;
    const build = (t: Tree): { encoder: KafkaEncoder; bytes: Buffer } => {
      if (Buffer.isBuffer(t)) return { encoder: new Encoder().writeInt32(t.length).writeBuffer(t), bytes: Buffer.concat([int32(t.length), t]) };
      const parts = t.map(build);
      const encoder = new Encoder()
        .writeInt32(7)
        .writeArray(parts.map((p) => p.encoder))
        .writeInt32(9);
      return { encoder, bytes: Buffer.concat([int32(7), int32(parts.length), ...parts.map((p) => p.bytes), int32(9)]) };
    };
    await fc.assert(
      fc.asyncProperty(tree, fc.boolean(), async (t, asOne) => {
        const { encoder, bytes } = build(t);
        expect(encoder.size()).toBe(bytes.length);
        expect(asOne ? encoder.buffer : Buffer.concat(encoder.buffers())).toEqual(bytes);
        // Framed as a request is sent: the size, the header, then the payload.
        const frame = await createRequest({ correlationId: 5, clientId: 'c', request: { apiKey: 0, apiVersion: 3, encode: async () => encoder } });
        const sent = Buffer.concat(frame.buffers());
        expect(sent.readInt32BE(0)).toBe(sent.length - 4);
        expect(sent.subarray(sent.length - bytes.length)).toEqual(bytes);
        expect(frame.buffer).toEqual(sent);
      }),
      { numRuns: 150 },
    );
    // Not copied: the frame holds the large batch's own memory.
    const batch = new Encoder().writeBuffer(Buffer.alloc(20_000, 1));
    const frame = await createRequest({
      correlationId: 1,
      clientId: 'c',
      request: { apiKey: 0, apiVersion: 3, encode: async () => new Encoder().writeArray([batch]) },
    });
    expect(frame.buffers().some((b) => b.buffer === (batch as unknown as { buf: Buffer }).buf.buffer)).toBe(true);
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

  it('computes CRC-32C as defined, eight bytes at a time or one', () => {
    expect(crc32C(Buffer.from('123456789'))).toBe(0xe3069283);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(7), (bytes, from) => {
        const view = Buffer.from(bytes).subarray(Math.min(from, bytes.length));
        expect(crc32C(view)).toBe(crc32CByBits(view));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes a record batch in one pass that reads back record for record, with a valid CRC', async () => {
    const message = fc.record({
      key: fc.option(fc.string(), { nil: null }),
      value: fc.option(
        fc.oneof(
          fc.string(),
          fc.uint8Array({ maxLength: 6000 }).map((b) => Buffer.from(b)),
        ),
        { nil: null },
      ),
      headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), fc.oneof(fc.string(), fc.array(fc.string(), { minLength: 1, maxLength: 3 })), {
        maxKeys: 3,
      }),
      timestamp: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(message, { maxLength: 40 }), fc.boolean(), async (messages, reserved) => {
        const base = 1_700_000_000_000;
        const now = base + 200_000;
        const at = (m: { timestamp?: number }) => (m.timestamp === undefined ? now : base + m.timestamp);
        const firstTimestamp = Math.min(now, ...messages.map(at));
        const reserve = reserved ? 8 : 0;
        const encoded = await RecordBatch({
          messages: messages.map((m) => ({ ...m, timestamp: m.timestamp === undefined ? undefined : String(base + m.timestamp) })),
          messageTimestamp: (m: { timestamp?: string }) => (m.timestamp ? Number(m.timestamp) : now),
          firstTimestamp,
          maxTimestamp: Math.max(...messages.map(at), firstTimestamp),
          producerId: 42,
          producerEpoch: 1,
          firstSequence: 0,
          transactional: true,
          lastOffsetDelta: messages.length - 1,
          reserve,
        });
        const bytes = encoded.buffer.subarray(reserve);
        // Length counts what follows it; the CRC covers everything from the attributes on.
        expect(bytes.readInt32BE(8)).toBe(bytes.length - 12);
        expect(bytes.readUInt32BE(17)).toBe(crc32CByBits(bytes.subarray(21)));
        const batch = await decodeRecordBatch(new Decoder(bytes));
        expect(batch.inTransaction).toBe(true);
        expect(batch.producerId).toBe('42');
        expect(batch.records).toHaveLength(messages.length);
        batch.records.forEach((r, i) => {
          const m = messages[i];
          expect(r.offset).toBe(String(i));
          expect(Number(r.timestamp)).toBe(at(m));
          expect(r.key === null ? null : r.key.toString()).toBe(m.key);
          expect(r.value === null ? null : Buffer.from(r.value)).toEqual(m.value === null ? null : Buffer.from(m.value));
          for (const [k, v] of Object.entries(m.headers)) {
            const got = r.headers[k];
            expect(Array.isArray(got) ? got.map(String) : String(got)).toEqual(Array.isArray(v) && v.length > 1 ? v : String(v));
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('asks DescribeTransactions v0 (API key 65) in the flexible format and reads its answer, an unknown id included', async () => {
    const { request, response } = requests.DescribeTransactions.protocol({ version: 0 })({ transactionalIds: ['tx-a', 'é-b'] });
    expect([request.apiKey, request.apiVersion]).toEqual([65, 0]);
    // The request header's tagged fields lead the payload (header v2), then the body.
    expect((await request.encode()).buffer).toEqual(
      Buffer.concat([compact.tags, compact.array([compact.string('tx-a'), compact.string('é-b')]), compact.tags]),
    );
    const state = (id: string, errorCode: number, name: string, topics: Buffer[]) =>
      Buffer.concat([
        int16(errorCode),
        compact.string(id),
        compact.string(name),
        int32(60000),
        int64(1700000000000n),
        int64(4200000000001n),
        int16(3),
        compact.array(topics),
        compact.tags,
      ]);
    const topic = Buffer.concat([compact.string('out'), compact.array([int32(2), int32(0)]), compact.tags]);
    const raw = Buffer.concat([
      compact.tags, // response header v1
      int32(0),
      compact.array([state('tx-a', 0, 'Ongoing', [topic]), state('gone', 105, '', [])]),
      compact.tags,
    ]);
    const decoded = await response.parse(await response.decode(raw));
    expect(decoded).toEqual({
      throttleTime: 0,
      transactionStates: [
        {
          errorCode: 0,
          transactionalId: 'tx-a',
          transactionState: 'Ongoing',
          transactionTimeoutMs: 60000,
          transactionStartTimeMs: '1700000000000',
          producerId: '4200000000001',
          producerEpoch: 3,
          topics: [{ topic: 'out', partitions: [2, 0] }],
        },
        expect.objectContaining({ errorCode: 105, transactionalId: 'gone' }),
      ],
    });
    // Any other error is the request's failure (here code 15, the coordinator not available: retriable).
    const failed = Buffer.concat([compact.tags, int32(0), compact.array([state('tx-a', 15, '', [])]), compact.tags]);
    await expect(response.parse(await response.decode(failed))).rejects.toMatchObject({ type: 'GROUP_COORDINATOR_NOT_AVAILABLE', retriable: true });
  });

  it('asks DescribeProducers v0 (API key 61) in the flexible format and reads the producers of each partition with their open transactions', async () => {
    const { request, response } = requests.DescribeProducers.protocol({ version: 0 })({ topics: [{ topic: 'out', partitions: [0, 7] }] });
    expect([request.apiKey, request.apiVersion]).toEqual([61, 0]);
    expect((await request.encode()).buffer).toEqual(
      Buffer.concat([compact.tags, compact.array([Buffer.concat([compact.string('out'), compact.array([int32(0), int32(7)]), compact.tags])]), compact.tags]),
    );
    const producer = Buffer.concat([int64(9n), int32(2), int32(41), int64(1700000000123n), int32(-1), int64(1234n), compact.tags]);
    const partition = (index: number, errorCode: number, message: string | null, producers: Buffer[]) =>
      Buffer.concat([int32(index), int16(errorCode), compact.string(message), compact.array(producers), compact.tags]);
    const raw = Buffer.concat([
      compact.tags,
      int32(0),
      compact.array([
        Buffer.concat([compact.string('out'), compact.array([partition(0, 0, null, [producer]), partition(7, 6, 'not the leader', [])]), compact.tags]),
      ]),
      compact.tags,
    ]);
    expect(await response.parse(await response.decode(raw))).toEqual({
      throttleTime: 0,
      topics: [
        {
          topic: 'out',
          partitions: [
            {
              partition: 0,
              errorCode: 0,
              errorMessage: null,
              activeProducers: [
                { producerId: '9', producerEpoch: 2, lastSequence: 41, lastTimestamp: '1700000000123', coordinatorEpoch: -1, currentTxnStartOffset: '1234' },
              ],
            },
            { partition: 7, errorCode: 6, errorMessage: 'not the leader', activeProducers: [] },
          ],
        },
      ],
    });
  });

  it('schedules its check of pending requests after a delay of at least 1 ms, never a negative one (Node.js 24 warns about those)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const RequestQueue = require('kafkajs/src/network/requestQueue') as new (options: Record<string, unknown>) => {
      scheduleCheckPendingRequests(): void;
      destroy(): void;
    };
    const queue = new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 1000, clientId: 'spec', broker: 'b:1', logger: { debug: () => undefined } });
    const delays: (number | undefined)[] = [];
    const setTimeoutSpy = jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      delays.push(ms);
      return { unref: () => undefined } as unknown as NodeJS.Timeout;
    }) as typeof setTimeout);
    try {
      queue.scheduleCheckPendingRequests();
    } finally {
      setTimeoutSpy.mockRestore();
    }
    expect(delays).toEqual([1]);
  });

  it('sends a partition again to its new leader after a failed send, even when that broker already answered for others (009)', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sendMessages = require('kafkajs/src/producer/sendMessages') as (
      deps: Record<string, unknown>,
    ) => (args: Record<string, unknown>) => Promise<unknown[]>;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const createRetry = require('kafkajs/src/retry') as (opts: Record<string, number>) => unknown;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { KafkaJSProtocolError } = require('kafkajs/src/errors') as { KafkaJSProtocolError: new (e: Record<string, unknown>) => Error };
    // Partition 0 is led by broker 1 and partition 1 by broker 2; broker 1 stops leading (a
    // restart) while the first send is in flight, and partition 0 moves to broker 2.
    const leaders: Record<string, number> = { '0': 1, '1': 2 };
    const sent: { broker: number; partitions: number[] }[] = [];
    const broker = (nodeId: number) => ({
      nodeId,
      produce: async ({ topicData }: { topicData: { topic: string; partitions: { partition: number }[] }[] }) => {
        const partitions = topicData.flatMap((t) => t.partitions.map((p) => Number(p.partition)));
        sent.push({ broker: nodeId, partitions });
        if (nodeId === 1) {
          leaders['0'] = 2;
          throw new KafkaJSProtocolError({ type: 'NOT_LEADER_OR_FOLLOWER', code: 6, retriable: true, message: 'not the leader' });
        }
        return {
          topics: topicData.map((t) => ({ topicName: t.topic, partitions: partitions.map((partition) => ({ partition, errorCode: 0, baseOffset: '0' })) })),
        };
      },
    });
    const brokers = new Map([1, 2].map((id) => [id, broker(id)]));
    const cluster = {
      refreshMetadataIfNecessary: async () => undefined,
      refreshMetadata: async () => undefined,
      addMultipleTargetTopics: async () => undefined,
      isConnected: () => true,
      findTopicPartitionMetadata: () => [{ partitionId: 0 }, { partitionId: 1 }],
      findLeaderForPartitions: (_topic: string, partitions: string[]) => {
        const out: Record<number, number[]> = {};
        for (const p of partitions) (out[leaders[p]] ??= []).push(Number(p));
        return out;
      },
      findBroker: async ({ nodeId }: { nodeId: number }) => brokers.get(Number(nodeId)),
    };
    const eosManager = {
      isTransactional: () => false,
      acquireBrokerLock: async () => undefined,
      releaseBrokerLock: async () => undefined,
      getSequence: () => 0,
      updateSequence: () => undefined,
      getProducerId: () => -1,
      getProducerEpoch: () => 0,
      getTransactionalId: () => undefined,
    };
    const send = sendMessages({
      logger: { debug: () => undefined, error: () => undefined },
      cluster,
      partitioner: ({ message }: { message: { key: string } }) => Number(message.key),
      eosManager,
      retrier: createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 }),
    });
    const result = await send({
      acks: -1,
      timeout: 1000,
      topicMessages: [
        {
          topic: 't',
          messages: [
            { key: '0', value: 'a' },
            { key: '1', value: 'b' },
          ],
        },
      ],
    });
    // Partition 0 reaches broker 2 on the retry; partition 1, answered the first time, is not sent again.
    expect(
      sent
        .filter((s) => s.broker === 2)
        .flatMap((s) => s.partitions)
        .sort(),
    ).toEqual([0, 1]);
    expect((result as { partition: number }[]).map((r) => r.partition).sort()).toEqual([0, 1]);
  });
});
