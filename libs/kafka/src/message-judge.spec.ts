import type { KafkaMessage } from 'kafkajs';
import { valueSchemaOf } from '@triggers/contracts';
import { PoisonError, TransientError } from '@triggers/errors';
import { createLogger } from '@triggers/logging';
import type { AvroSerde } from './avro-serde';
import { ConsumerStatus } from './consumer-status';
import { AbandonedError, KeepAlive, MessageJudge } from './message-judge';

/**
 * The judge every consumer engine runs a message through, over a fake serde: a message is a value,
 * poison (dead-lettered with its reason), or waits while a dependency is down, heartbeating, and
 * is abandoned when its consumer stops or loses the partition.
 */
describe('MessageJudge', () => {
  const source = { topic: 'triggers.log.v1', partition: 2 };
  const message = (text: string, offset = '7'): KafkaMessage =>
    ({ key: Buffer.from('k'), value: Buffer.from(text), offset, timestamp: '0', attributes: 0, headers: {} }) as KafkaMessage;
  const logSchema = valueSchemaOf('log');
  /** `known:<json>` decodes at once; `fetch:<json>` needs the registry (which `registryDown` times refuses); anything else is unreadable. */
  let registryDown = 0;
  const serde = {
    decodeKnown: (buf: Buffer | null) => {
      const text = buf!.toString();
      if (text.startsWith('known:')) return { schemaName: logSchema, value: JSON.parse(text.slice(6)) };
      if (text.startsWith('fetch:')) return undefined;
      throw new PoisonError('not in the Confluent wire format', { code: 'not_avro' });
    },
    decode: async (buf: Buffer | null) => {
      if (registryDown > 0) {
        registryDown--;
        throw new TransientError('schema registry unavailable', { dependency: 'schemaRegistry' });
      }
      return { schemaName: logSchema, value: JSON.parse(buf!.toString().slice(6)) };
    },
  } as unknown as AvroSerde;
  const status = new ConsumerStatus('unit-group');
  const judge = new MessageJudge<{ step: string }>({
    serde,
    records: 'log',
    deadLetterTopic: 'triggers.deadletter.log.v1',
    check: (value) => {
      if (value.step === 'bad') throw new PoisonError('step "bad" is not a step');
    },
    logger: createLogger({ app: 'test', level: 'silent' }),
    status,
    retryMinMs: 5,
    retryMaxMs: 20,
  });
  const alive: KeepAlive = { heartbeat: async () => undefined, active: () => true };

  beforeEach(() => {
    registryDown = 0;
  });

  it('judges a message whose schema is known without waiting, and one whose schema must be fetched after', async () => {
    expect(judge.readKnown(message('known:{"step":"matched"}'), source)).toEqual({ value: { step: 'matched' } });
    expect(judge.readKnown(message('fetch:{"step":"matched"}'), source)).toBeUndefined();
    expect(await judge.read(message('fetch:{"step":"matched"}'), source, alive)).toEqual({ value: { step: 'matched' } });
  });

  it("calls poison what cannot be read, what fails the engine's check, and a record of another schema", async () => {
    expect(judge.readKnown(message('garbage'), source)?.poison).toBeInstanceOf(PoisonError);
    expect((judge.readKnown(message('known:{"step":"bad"}'), source)?.poison as Error).message).toBe('step "bad" is not a step');
    const other = new MessageJudge<unknown>({ ...judge.options, check: undefined, records: 'webhookCommands' });
    expect((other.readKnown(message('known:{}'), source)?.poison as Error).message).toBe(`a ${logSchema} where a ${valueSchemaOf('webhookCommands')} belongs`);
  });

  it('waits a registry outage out, heartbeating, and tells the status what it waits for until it is back', async () => {
    registryDown = 3;
    const waitedFor: string[] = [];
    const watching: KeepAlive = { heartbeat: async () => void waitedFor.push(...status.waitingOn().map((w) => w.dependency)), active: () => true };
    expect(await judge.read(message('fetch:{"step":"matched"}'), source, watching)).toEqual({ value: { step: 'matched' } });
    expect(waitedFor.length).toBeGreaterThanOrEqual(3);
    expect(new Set(waitedFor)).toEqual(new Set(['schemaRegistry']));
    expect(status.waitingOn()).toEqual([]);
  });

  it('abandons a waiting message when its consumer stops, or when a heartbeat says the group rebalances', async () => {
    registryDown = 100;
    let active = true;
    const stopping = judge.read(message('fetch:{}'), source, { heartbeat: async () => void (active = false), active: () => active });
    await expect(stopping).rejects.toBeInstanceOf(AbandonedError);
    const rebalancing = judge.read(message('fetch:{}'), source, {
      heartbeat: async () => {
        throw new Error('The group is rebalancing, so a rejoin is needed');
      },
      active: () => true,
    });
    await expect(rebalancing).rejects.toBeInstanceOf(AbandonedError);
  });

  it("writes a dead letter with the message's key and value and where it came from, and counts it", () => {
    const letter = judge.deadLetterOf(message('garbage', '42'), source, new PoisonError('not in the Confluent wire format', { code: 'not_avro' }));
    expect(letter.key).toEqual(Buffer.from('k'));
    expect(letter.value).toEqual(Buffer.from('garbage'));
    expect(letter.headers).toMatchObject({ 'dlq-source-topic': source.topic, 'dlq-source-partition': '2', 'dlq-source-offset': '42' });
    expect(String(letter.headers!['dlq-reason'])).toContain('not in the Confluent wire format');
  });
});
