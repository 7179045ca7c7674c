/**
 * The matcher's floor as a process of its own: the same exactly-once consume → produce (one
 * transaction per partition batch, read_committed, offsets in the transaction) writing, for every
 * event, a webhook command and a `matched` log record of exactly the matcher's bytes, keys and
 * headers, made once up front, with no decoding, matching or encoding per event. It starts cold
 * like the matcher, so the two compare like for like (in the benchmark's own process the floor
 * ran warm from its second run: 56-57 µs per event against 71 for its first), and with the
 * apps' Node and allocator settings (deploy/run-app.sh), so the difference is the matcher's own
 * work and not its runtime's settings.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { EventType, HEADERS, eventTopicKeyOf, logIdFor, newLogRecord, newWebhookCommand, webhookBody } from '@triggers/contracts';
import { loadBaseConfig } from '@triggers/config';
import { AvroSerde, TransactionalProcessor, createKafka, createRegistry, createTopicsAndWait } from '@triggers/kafka';
import { createLogger } from '@triggers/logging';
import { TestContext, appRuntimeSettings, uniqueId, waitForConsumed } from '@triggers/testing';
import { CpuMeter } from './cpu-meter';

interface FloorJob {
  env: Record<string, string>;
  from: string;
  to: string;
  groupId: string;
  wrap: { type: EventType; payload: unknown };
}

/**
 * Runs the floor in a fresh child process until its group has consumed `from`: events per second
 * from its first batch, and the CPU per event of the child (and of the broker) from the moment
 * it starts consuming.
 */
export async function exactlyOnceFanOut(
  ctx: TestContext,
  from: string,
  wrap: FloorJob['wrap'],
  expected: number,
  run: number,
  kafkaPid: number | undefined,
): Promise<{ rate: number; cpu: Record<string, number> }> {
  const to = `${ctx.namespace}.fanout.${run}`;
  await createTopicsAndWait(ctx.admin, [{ topic: to, numPartitions: 3 }]);
  const job: FloorJob = { env: ctx.env, from, to, groupId: uniqueId('fanout'), wrap };
  // The benchmark runs under tsx; the child inherits its loader (process.execArgv).
  const runtime = appRuntimeSettings();
  const child = fork(__filename, ['--floor-child'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...runtime.env },
    execArgv: [...process.execArgv, ...runtime.nodeArgs],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const message = (type: string) =>
      new Promise<{ type: string; startedAt?: number }>((resolve, reject) => {
        child.on('message', (m: { type: string }) => m.type === type && resolve(m));
        void exited.then((code) => reject(new Error(`the floor process exited (${code}) before "${type}"`)));
      });
    const ready = message('ready');
    child.send(job);
    await ready;
    const meter = new CpuMeter({ fanOut: child.pid, kafka: kafkaPid });
    const firstBatch = message('first-batch');
    await waitForConsumed(ctx, job.groupId, from, 300_000);
    const cpu = meter.perUnit(expected);
    const { startedAt } = await firstBatch;
    return { rate: expected / ((Date.now() - startedAt!) / 1000), cpu };
  } finally {
    if (child.connected) child.send({ type: 'stop' });
    await exited;
  }
}

/** In the child: connects, makes the records, says "ready", then consumes until told to stop. */
async function child(job: FloorJob): Promise<void> {
  const config = loadBaseConfig('bench', job.env);
  const logger = createLogger({ app: 'bench', level: 'silent' });
  const kafka = createKafka(config.kafka, logger);
  const serde = new AvroSerde(createRegistry(config.registry), config.kafka.topics);
  const now = Date.now();
  const base = { tenantId: 'tenant-0', triggerId: 'trigger-0', eventId: randomUUID(), eventType: job.wrap.type };
  const command = newWebhookCommand({
    ...base,
    actionIndex: 0,
    url: 'https://hooks.example/0/0',
    body: webhookBody(job.wrap.type, job.wrap.payload),
    origin: 'event',
    now,
  });
  const matched = newLogRecord({
    ...base,
    logId: logIdFor(base.eventId, base.triggerId, 'matched'),
    step: 'matched',
    status: 'info',
    time: now,
    message: 'matched trigger "t0" (version 1): webhook',
  });
  const commandValue = await serde.encode('webhookCommands', command);
  const logValue = await serde.encode('log', matched);
  let started = false;
  // The engine decodes every event (it owns decoding and dead letters); nothing else is done per event.
  const processor = new TransactionalProcessor<unknown>({
    kafka,
    groupId: job.groupId,
    transactionalIdPrefix: job.groupId,
    topics: [job.from],
    outputTopics: [job.to],
    logger,
    serde,
    records: eventTopicKeyOf(job.wrap.type),
    deadLetterTopic: config.kafka.topics.deadLetterEvents,
    handler: {
      beginBatch: () => {
        if (!started) process.send!({ type: 'first-batch', startedAt: Date.now() });
        started = true;
      },
      handle: (value, m, source, out) => {
        const key = `${m.key?.toString()}/trigger-0`;
        out.push(job.to, { key, value: commandValue, headers: { [HEADERS.correlationId]: base.eventId } });
        out.push(job.to, { key, value: logValue });
      },
    },
  });
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stop') void processor.stop().then(() => process.exit(0));
  });
  process.send!({ type: 'ready' });
  await processor.start();
}

if (process.argv.includes('--floor-child')) {
  process.once('message', (job: FloorJob) => {
    child(job).catch((err: Error) => {
      process.stderr.write(`fan-out floor: ${err.stack ?? err.message}\n`);
      process.exit(1);
    });
  });
}
