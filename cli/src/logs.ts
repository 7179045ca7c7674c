/**
 * The log topic, for analysts and on-call:
 *   triggers logs tail [--tenant id] [--trigger id] [--step s] [--from ISO] [--to ISO] [--follow] [--json]
 * Without --follow it stops at the end of the range (the end of the topic when --to is absent);
 * with it, it keeps printing new records until Ctrl-C. One line per record; --json prints the
 * record itself, one JSON object per line. Connects with the apps' settings.
 */
import { parseArgs } from 'node:util';
import { loadBaseConfig } from '@triggers/config';
import type { LogRecord } from '@triggers/contracts';
import { AvroSerde, createKafka, createRegistry, readTopicRange } from '@triggers/kafka';
import { createLogger } from '@triggers/logging';
import { UsageError, parseTime, runCli } from './cli';

const USAGE = 'usage: triggers logs tail [--tenant id] [--trigger id] [--step step] [--from ISO] [--to ISO] [--follow] [--json]\n';

/** One record as a line a person reads. */
export function logLine(r: LogRecord): string {
  const http = r.http ? ` ${r.http.method} ${r.http.url} → ${r.http.responseStatus ?? r.http.errorClass ?? '-'} ${r.http.durationMs} ms` : '';
  const attempt = r.attempt === null ? '' : ` attempt ${r.attempt}`;
  return `${new Date(r.time).toISOString()} ${r.tenantId} ${r.triggerId ?? '-'} ${r.step} ${r.status}${attempt}${http} ${r.message ?? ''}`.trimEnd();
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      trigger: { type: 'string' },
      step: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      follow: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (positionals[0] !== 'tail') throw new UsageError(positionals[0] ? `unknown command "${positionals[0]}": say tail` : 'say tail');
  const from = parseTime(values.from, '--from');
  const to = parseTime(values.to, '--to');
  if (from && to && from > to) throw new UsageError('--from is after --to');

  const config = loadBaseConfig('logs', { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const logger = createLogger({ app: 'logs', level: config.logLevel, destination: process.stderr as never });
  const kafka = createKafka(config.kafka, logger);
  const serde = new AvroSerde(createRegistry(config.registry), config.kafka.topics);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  let printed = 0;
  let unreadable = 0;
  await readTopicRange(kafka, config.kafka.topics.log, { from, to, follow: values.follow, signal: controller.signal }, async (m, partition) => {
    // The key is <tenantId>/<...>: other tenants' records are skipped before decoding.
    if (values.tenant && !m.key?.toString().startsWith(`${values.tenant}/`)) return;
    let record: LogRecord;
    try {
      record = (await serde.decode<LogRecord>(m.value)).value;
    } catch (err) {
      unreadable++;
      process.stderr.write(`skipped ${config.kafka.topics.log} ${partition}:${m.offset}: ${(err as Error).message}\n`);
      return;
    }
    if (values.tenant && record.tenantId !== values.tenant) return;
    if (values.trigger && record.triggerId !== values.trigger) return;
    if (values.step && record.step !== values.step) return;
    printed++;
    process.stdout.write(`${values.json ? JSON.stringify(record) : logLine(record)}\n`);
  });
  if (!values.json) process.stderr.write(`${printed} record(s)${unreadable ? `, ${unreadable} unreadable` : ''}\n`);
}

runCli(main, { usage: USAGE });
