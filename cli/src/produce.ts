/**
 * Publishes events the way platform services do:
 *   triggers produce --tenant <id> --file <{type,payload}.json> [--count N] [--rate R] [--traceparent <W3C traceparent>]
 * Each event gets a fresh eventId, is wrapped in the envelope, Avro-encoded with the registry and
 * sent to its type's topic. Prints one line per event sent (a summary for large counts).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadBaseConfig } from '@triggers/config';
import { ContractError, EVENT_TYPES, EVENT_TYPE_IDS, HEADERS, eventKey, eventTopicKeyOf, isEventType } from '@triggers/contracts';
import { AvroSerde, createIdempotentProducer, createKafka, createRegistry } from '@triggers/kafka';
import { createLogger } from '@triggers/logging';
import { parseTraceparent } from '@triggers/tracing';
import { UsageError, runCli } from './cli';

function readEventFile(file: string): { type: string; payload: Record<string, unknown> } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const event = parsed as { type?: unknown; payload?: unknown };
  if (!event || typeof event !== 'object' || typeof event.type !== 'string' || typeof event.payload !== 'object' || event.payload === null) {
    throw new UsageError(`${file} must hold {"type": "<event type>", "payload": {...}}`);
  }
  if (!isEventType(event.type)) {
    throw new UsageError(`unknown event type "${event.type}"; known types: ${EVENT_TYPE_IDS.join(', ')}`);
  }
  return event as { type: string; payload: Record<string, unknown> };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string' },
      file: { type: 'string' },
      count: { type: 'string', default: '1' },
      rate: { type: 'string' },
      traceparent: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: triggers produce --tenant <id> --file <payload.json> [--count N] [--rate R events/s] [--traceparent 00-<trace id>-<span id>-<flags>]\n',
    );
    return;
  }
  if (!values.tenant) throw new UsageError('--tenant <id> is required');
  if (!values.file) throw new UsageError('--file <payload.json> is required');
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`--count must be a whole number >= 1, got "${values.count}"`);
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  if (rate !== undefined && !(rate > 0)) throw new UsageError(`--rate must be a number of events per second > 0, got "${values.rate}"`);

  // The events continue the caller's trace when one is given (the matcher picks it up from the header).
  if (values.traceparent !== undefined && !parseTraceparent(values.traceparent)) {
    throw new UsageError(
      `--traceparent must be a W3C traceparent such as 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01, got "${values.traceparent}"`,
    );
  }
  const traceHeaders = values.traceparent ? { [HEADERS.traceparent]: values.traceparent } : {};
  const event = readEventFile(values.file);
  const type = event.type as keyof typeof EVENT_TYPES;
  const config = loadBaseConfig('producer', { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const logger = createLogger({ app: 'producer', level: config.logLevel, destination: process.stderr as never });
  const topicKey = eventTopicKeyOf(type);
  const topic = config.kafka.topics[topicKey];
  const serde = new AvroSerde(createRegistry(config.registry), config.kafka.topics);

  // Validate once before connecting, so a payload that does not fit fails fast and clearly.
  const notes = { ignoredFields: [] as string[] };
  await serde.encode(topicKey, { tenantId: values.tenant, eventId: 'check', type, payload: event.payload }, notes);
  if (notes.ignoredFields.length > 0) {
    process.stderr.write(`warning: fields not in the ${type} schema are not sent: ${notes.ignoredFields.join(', ')}\n`);
  }

  const producer = createIdempotentProducer(createKafka(config.kafka, logger));
  await producer.connect();
  const started = Date.now();
  const verbose = count <= 20;
  const routing = String(event.payload.leadId ?? event.payload.activityId ?? event.payload.activity_id ?? '');
  try {
    const batchSize = rate ? Math.max(1, Math.min(500, Math.floor(rate / 10))) : 500;
    for (let sent = 0; sent < count;) {
      const n = Math.min(batchSize, count - sent);
      const messages = [];
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const eventId = randomUUID();
        ids.push(eventId);
        const value = await serde.encode(topicKey, { tenantId: values.tenant, eventId, type, payload: event.payload });
        // Same tenant and lead (or activity) → same partition, so one lead's events stay in order.
        messages.push({ key: eventKey(values.tenant, routing || eventId), value, headers: { [HEADERS.eventType]: type, ...traceHeaders } });
      }
      const results = await producer.send({ topic, messages });
      if (verbose) {
        const r = results[0];
        for (const id of ids) {
          process.stdout.write(`sent ${type} event ${id} for tenant ${values.tenant} to ${topic} (partition ${r.partition})\n`);
        }
      }
      sent += n;
      if (!verbose && (sent % 5000 === 0 || sent === count)) process.stderr.write(`sent ${sent}/${count}\n`);
      if (rate) {
        const due = started + (sent / rate) * 1000;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
  } finally {
    await producer.disconnect();
  }
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(`sent ${count} ${type} event(s) to ${topic} in ${seconds.toFixed(2)}s (${Math.round(count / Math.max(seconds, 0.001))}/s)\n`);
}

runCli(main, {
  isUsage: (err) => err instanceof ContractError,
  describe: (err) => (err instanceof ContractError ? `the payload does not fit the schema: ${err.message}` : err.message),
});
