/**
 * Dead letters, for operators:
 *   triggers dlq list   [--topic events|webhook|lead|log] [--from ISO] [--to ISO] [--reason text] [--tenant id] [--json]
 *   triggers dlq show   --topic <t> --partition <p> --offset <o>
 *   triggers dlq replay --topic <t> [same filters | --partition <p> --offset <o>] [--dry-run]
 * `replay` sends each selected message back to the topic it was read from, with its original key,
 * value and headers (the dlq-* headers removed, `dlq-replayed-from` added). It connects with the
 * apps' settings (KAFKA_BROKERS, KAFKA_SSL, KAFKA_SASL_*, TOPIC_NAMESPACE, SCHEMA_REGISTRY_URL).
 */
import { parseArgs } from 'node:util';
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { SingleBar } from 'cli-progress';
import { loadBaseConfig } from '@triggers/config';
import { DEAD_LETTER_HEADERS, TopicKey } from '@triggers/contracts';
import { AvroSerde, createIdempotentProducer, createKafka, createRegistry, readTopicRange } from '@triggers/kafka';
import { createLogger } from '@triggers/logging';
import { UsageError, headerText, parseTime, runCli } from './cli';

const TOPICS: Record<string, TopicKey> = {
  events: 'deadLetterEvents',
  webhook: 'deadLetterWebhook',
  lead: 'deadLetterLead',
  log: 'deadLetterLog',
};

const USAGE = `usage:
  triggers dlq list   [--topic events|webhook|lead|log] [--from ISO] [--to ISO] [--reason text] [--tenant id] [--json]
  triggers dlq show   --topic events|webhook|lead|log --partition P --offset O
  triggers dlq replay --topic events|webhook|lead|log [--from ISO] [--to ISO] [--reason text] [--tenant id] [--dry-run]
  triggers dlq replay --topic events|webhook|lead|log --partition P --offset O [--dry-run]
`;

/** One dead letter as `list --json` prints it. */
interface DeadLetterRow {
  topic: string;
  partition: number;
  offset: string;
  time: string;
  key: string | null;
  reason: string | null;
  errorClass: string | null;
  source: { topic: string | null; partition: number | null; offset: string | null };
  truncated: boolean;
}

function rowOf(topic: string, partition: number, m: KafkaMessage): DeadLetterRow {
  const h = m.headers;
  const sourcePartition = headerText(h, DEAD_LETTER_HEADERS.sourcePartition);
  return {
    topic,
    partition,
    offset: m.offset,
    // When it was written to the dead-letter topic: what --from and --to select on.
    time: new Date(Number(m.timestamp)).toISOString(),
    key: m.key?.toString() ?? null,
    reason: headerText(h, DEAD_LETTER_HEADERS.reason),
    errorClass: headerText(h, DEAD_LETTER_HEADERS.errorClass),
    source: {
      topic: headerText(h, DEAD_LETTER_HEADERS.sourceTopic),
      partition: sourcePartition === null ? null : Number(sourcePartition),
      offset: headerText(h, DEAD_LETTER_HEADERS.sourceOffset),
    },
    truncated: headerText(h, DEAD_LETTER_HEADERS.truncated) === 'true',
  };
}

/** The original message a dead letter holds, as it is sent back to its source topic. */
export function replayMessage(dlqTopic: string, partition: number, m: KafkaMessage): Message {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(m.headers ?? {})) if (!name.startsWith('dlq-') && value !== undefined) headers[name] = value;
  headers[DEAD_LETTER_HEADERS.replayedFrom] = `${dlqTopic}:${partition}:${m.offset}`;
  return { key: m.key, value: m.value, headers };
}

/** The message `--partition` and `--offset` name. */
function position(command: string, values: { partition?: string; offset?: string }): { partition: number; offset: string } {
  const partition = Number(values.partition);
  if (values.partition === undefined || !Number.isInteger(partition) || partition < 0)
    throw new UsageError(`${command} needs --partition <number> with --offset`);
  if (!values.offset || !/^\d+$/.test(values.offset)) throw new UsageError(`${command} needs --offset <number> with --partition`);
  return { partition, offset: values.offset };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      topic: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      reason: { type: 'string' },
      tenant: { type: 'string' },
      partition: { type: 'string' },
      offset: { type: 'string' },
      json: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    if (!command && !values.help) throw new UsageError('say list, show or replay');
    process.stdout.write(USAGE);
    return;
  }
  if (!['list', 'show', 'replay'].includes(command)) throw new UsageError(`unknown command "${command}": say list, show or replay`);
  if (values.topic !== undefined && !TOPICS[values.topic])
    throw new UsageError(`--topic must be one of ${Object.keys(TOPICS).join(', ')}, got "${values.topic}"`);
  if ((command === 'show' || command === 'replay') && !values.topic) throw new UsageError(`${command} needs --topic ${Object.keys(TOPICS).join('|')}`);
  const from = parseTime(values.from, '--from');
  const to = parseTime(values.to, '--to');
  if (from && to && from > to) throw new UsageError('--from is after --to');

  const config = loadBaseConfig('dlq', { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const logger = createLogger({ app: 'dlq', level: config.logLevel, destination: process.stderr as never });
  const kafka = createKafka(config.kafka, logger);
  const keys = values.topic ? [TOPICS[values.topic]] : Object.values(TOPICS);

  // One message, by position: show needs it; replay takes it instead of the filters.
  const one = values.offset !== undefined || values.partition !== undefined || command === 'show' ? position(command, values) : undefined;
  const readOne = async (topic: string, at: { partition: number; offset: string }): Promise<KafkaMessage> => {
    let found: KafkaMessage | undefined;
    const controller = new AbortController();
    await readTopicRange(kafka, topic, { partitions: [at.partition], startAt: BigInt(at.offset), signal: controller.signal }, (m) => {
      if (m.offset === at.offset) found = m;
      controller.abort();
    });
    if (!found) throw new UsageError(`no message at ${topic} partition ${at.partition} offset ${at.offset}`);
    return found;
  };

  if (command === 'show') {
    const topic = config.kafka.topics[keys[0]];
    const { partition } = one!;
    const found = await readOne(topic, one!);
    const serde = new AvroSerde(createRegistry(config.registry), config.kafka.topics);
    let decoded: unknown;
    let hex: string | undefined;
    try {
      decoded = (await serde.decode(found.value)).value;
    } catch (err) {
      hex = found.value?.toString('hex') ?? '';
      decoded = `not decoded (${(err as Error).message})`;
    }
    const headers = Object.fromEntries(Object.keys(found.headers ?? {}).map((k) => [k, headerText(found.headers, k)]));
    const out = { ...rowOf(topic, partition, found), headers, value: decoded, ...(hex !== undefined ? { hex } : {}) };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }

  const matches = (row: DeadLetterRow) =>
    (!values.reason || (row.reason ?? '').toLowerCase().includes(values.reason.toLowerCase())) &&
    (!values.tenant || (row.key ?? '').startsWith(`${values.tenant}/`)) &&
    (!from || new Date(row.time) >= from) &&
    (!to || new Date(row.time) <= to);

  if (command === 'list') {
    let n = 0;
    for (const key of keys) {
      const topic = config.kafka.topics[key];
      // The dead letter's own time is when it was written: the topic's time range is the same one.
      await readTopicRange(kafka, topic, { from, to }, (m, partition) => {
        const row = rowOf(topic, partition, m);
        if (!matches(row)) return;
        n++;
        if (values.json) process.stdout.write(`${JSON.stringify(row)}\n`);
        else
          process.stdout.write(
            `${row.time}  ${topic} ${partition}:${row.offset}  key=${row.key ?? '-'}  ${row.errorClass ?? '-'}: ${row.reason ?? '-'}` +
              `  (from ${row.source.topic}:${row.source.partition}:${row.source.offset}${row.truncated ? ', truncated' : ''})\n`,
          );
      });
    }
    if (!values.json) process.stderr.write(`${n} dead letter(s)\n`);
    return;
  }

  // replay
  const topic = config.kafka.topics[keys[0]];
  const selected: { row: DeadLetterRow; message: Message }[] = [];
  let truncated = 0;
  const consider = (m: KafkaMessage, partition: number) => {
    const row = rowOf(topic, partition, m);
    if (!one && !matches(row)) return;
    if (row.truncated || !row.source.topic) {
      truncated++;
      process.stderr.write(
        `skipped ${topic} ${partition}:${row.offset}: ${row.truncated ? `only a prefix was kept; the whole message is at ${row.source.topic}:${row.source.partition}:${row.source.offset} while retention lasts` : 'no source topic header'}\n`,
      );
      return;
    }
    selected.push({ row, message: replayMessage(topic, partition, m) });
  };
  if (one) consider(await readOne(topic, one), one.partition);
  else await readTopicRange(kafka, topic, { from, to }, consider);
  if (values['dry-run']) {
    for (const { row, message } of selected) {
      process.stdout.write(
        `would send ${topic} ${row.partition}:${row.offset} to ${row.source.topic} key=${row.key ?? '-'} (${message.value?.length ?? 0} bytes, ` +
          `headers ${Object.keys(message.headers ?? {}).join(', ')})\n`,
      );
    }
    process.stdout.write(`dry run: ${selected.length} message(s) would be replayed, ${truncated} skipped\n`);
    return;
  }
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const bar = new SingleBar({ format: 'replaying [{bar}] {value}/{total} {eta_formatted}', stream: process.stderr, noTTYOutput: false });
  if (selected.length > 0) bar.start(selected.length, 0);
  let sent = 0;
  try {
    const bySource = new Map<string, Message[]>();
    for (const { row, message } of selected) {
      const list = bySource.get(row.source.topic!) ?? [];
      list.push(message);
      bySource.set(row.source.topic!, list);
    }
    for (const [source, messages] of bySource) {
      for (let i = 0; i < messages.length; i += 500) {
        const chunk = messages.slice(i, i + 500);
        await producer.send({ topic: source, messages: chunk });
        sent += chunk.length;
        bar.update(sent);
      }
    }
  } finally {
    if (selected.length > 0) bar.stop();
    await producer.disconnect();
  }
  const targets = [...new Set(selected.map((s) => s.row.source.topic))].join(', ') || '-';
  process.stdout.write(`replayed ${sent} message(s) to ${targets}; ${truncated} skipped\n`);
}

runCli(main, { usage: USAGE });
