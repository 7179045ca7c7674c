/**
 * The Kafka client choice, measured (`npm run bench -- kafka-clients`): kafkajs as the apps build
 * it (pinned, with our patches) against @platformatic/kafka on the two paths our consumers run,
 * each run in a fresh process of its own and metered from its first message:
 * - pass-through: read_committed consume, every value produced unchanged by an idempotent
 *   producer, offsets committed after each batch (the lead-mover's and the log sink's shape);
 * - exactly-once fan-out: one transaction per partition batch writing two records per event (a
 *   command and a log record, the matcher's shape) with the batch's offsets in the transaction.
 * Then what every restart and takeover needs: a transactional id opened again by a new process,
 * after its last process exited cleanly and after it was killed (kill -9) in the middle of a
 * transaction; the new one commits its own records, and read_committed readers see the committed
 * records alone. The figures and the decision they led to: patches/README.md.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Producer as KafkajsProducer } from 'kafkajs';
import { loadBaseConfig } from '@triggers/config';
import { createKafka, createTopicsAndWait } from '@triggers/kafka';
import { createLogger } from '@triggers/logging';
import { appRuntimeSettings, countRecords, specPayload, uniqueId } from '@triggers/testing';
import { median, report } from './bench-report';
import { cpuSecondsOf } from './cpu-meter';
import { benchContext } from './infra';
import type * as Platformatic from '@platformatic/kafka/dist/index';

const CLIENTS = ['kafkajs', 'platformatic'] as const;
type Client = (typeof CLIENTS)[number];
const SCENARIOS = ['passThrough', 'exactlyOnceFanOut'] as const;
type Scenario = (typeof SCENARIOS)[number];
/** BENCH_CLIENT_SCENARIOS=exactlyOnceFanOut runs one scenario alone. */
const RUN_SCENARIOS = SCENARIOS.filter((s) => !process.env.BENCH_CLIENT_SCENARIOS || process.env.BENCH_CLIENT_SCENARIOS.split(',').includes(s));

const EVENTS = Number(process.env.BENCH_EVENTS ?? 30_000);
/** Three rounds, so each figure is a median of three; one with BENCH_QUICK. */
const ROUNDS = Number(process.env.BENCH_CLIENT_ROUNDS ?? (process.env.BENCH_QUICK ? 1 : 3));
/**
 * Events a batch (a transaction) holds at most, for both clients: kafkajs's 1 MB partition fetch
 * holds about this many (BENCH_CLIENT_BATCH sets another).
 */
const MAX_BATCH = Number(process.env.BENCH_CLIENT_BATCH ?? 1_000);
const RESTART_RECORDS = 10;
const RESTART_TIMEOUT_MS = 120_000;

type Job =
  | { kind: 'run'; client: Client; scenario: Scenario; env: Record<string, string>; from: string; to: string; groupId: string; expected: number }
  | { kind: 'hang'; client: Client; env: Record<string, string>; to: string; transactionalId: string }
  | { kind: 'resume'; client: Client; env: Record<string, string>; to: string; transactionalId: string };

type ChildMessage =
  | { type: 'ready' }
  | { type: 'first' }
  | { type: 'done'; cpuMicros: number; seconds: number; batches: number; transactions: number }
  | { type: 'hanging' }
  | { type: 'resumed'; ms: number }
  | { type: 'failed'; error: string };

export async function kafkaClientsBenchmark(): Promise<void> {
  const { ctx, serverPids, stopInfra } = await benchContext();
  try {
    const from = `${ctx.namespace}.clients.in`;
    await createTopicsAndWait(ctx.admin, [{ topic: from, numPartitions: 3 }]);
    const value = Buffer.from(JSON.stringify(specPayload('agent-wrap-predictive-outbound.json').event.payload));
    process.stderr.write(`producing ${EVENTS} events of ${value.length} bytes\n`);
    const producer = ctx.kafka.producer();
    await producer.connect();
    for (let i = 0; i < EVENTS; i += 1_000) {
      const messages = Array.from({ length: Math.min(1_000, EVENTS - i) }, (_, k) => ({ key: `call-${i + k}`, value }));
      await producer.send({ topic: from, messages });
    }
    await producer.disconnect();

    const runs: Record<Client, Record<Scenario, { cpu: number[]; kafka: number[]; rate: number[]; batch: number[] }>> = Object.fromEntries(
      CLIENTS.map((c) => [c, Object.fromEntries(SCENARIOS.map((s) => [s, { cpu: [], kafka: [], rate: [], batch: [] }]))]),
    ) as never;
    for (let round = 0; round < ROUNDS; round++) {
      for (const scenario of RUN_SCENARIOS) {
        // Later runs measure slower on a shared machine: the clients take turns going first.
        for (const client of round % 2 === 0 ? CLIENTS : [...CLIENTS].reverse()) {
          const to = `${ctx.namespace}.clients.${client}.${scenario}.${round}`;
          await createTopicsAndWait(ctx.admin, [{ topic: to, numPartitions: 3 }]);
          const job: Job = { kind: 'run', client, scenario, env: ctx.env, from, to, groupId: uniqueId(`clients-${client}`), expected: EVENTS };
          let kafkaAtFirst = NaN;
          const done = await inChild(job, (m) => {
            if (m.type === 'first') kafkaAtFirst = cpuSecondsOf(serverPids.kafka ?? 0);
          });
          if (done.type !== 'done') throw new Error(`${client} ${scenario}: no result`);
          const kafkaCpu = ((cpuSecondsOf(serverPids.kafka ?? 0) - kafkaAtFirst) / EVENTS) * 1e6;
          const written = await countRecords(ctx.kafka, to);
          const perEvent = scenario === 'exactlyOnceFanOut' ? 2 : 1;
          if (written !== EVENTS * perEvent) throw new Error(`${client} ${scenario}: ${written} records written, ${EVENTS * perEvent} expected`);
          const r = runs[client][scenario];
          r.cpu.push(done.cpuMicros / EVENTS);
          r.kafka.push(kafkaCpu);
          r.rate.push(EVENTS / done.seconds);
          r.batch.push(EVENTS / done.batches);
          process.stderr.write(
            `${client} ${scenario} (round ${round + 1} of ${ROUNDS}): ${(done.cpuMicros / EVENTS).toFixed(1)} µs of client CPU per event, ` +
              `${kafkaCpu.toFixed(1)} µs of the broker's, ${Math.round(EVENTS / done.seconds)} events/s, ${done.transactions} transactions\n`,
          );
        }
      }
    }
    const figures = Object.fromEntries(
      CLIENTS.map((c) => [
        c,
        Object.fromEntries(
          RUN_SCENARIOS.map((s) => {
            const r = runs[c][s];
            const m = (v: number[]) => +median(v).toFixed(1);
            return [
              s,
              {
                cpuMicrosecondsPerEvent: m(r.cpu),
                brokerCpuMicrosecondsPerEvent: m(r.kafka),
                eventsPerSecond: Math.round(median(r.rate)),
                eventsPerBatch: Math.round(median(r.batch)),
                runs: r,
              },
            ];
          }),
        ),
      ]),
    ) as unknown as Record<Client, Record<Scenario, { cpuMicrosecondsPerEvent: number }>>;
    const ratios = Object.fromEntries(
      RUN_SCENARIOS.map((s) => [s, +(figures.platformatic[s].cpuMicrosecondsPerEvent / figures.kafkajs[s].cpuMicrosecondsPerEvent).toFixed(2)]),
    );

    const reopened: Record<string, unknown> = {};
    for (const client of CLIENTS)
      reopened[client] = Object.fromEntries(await Promise.all(RESTARTS.map(async (after) => [after, await restart(ctx, client, after)])));
    report('kafka-clients', {
      events: EVENTS,
      rounds: ROUNDS,
      eventBytes: value.length,
      clients: figures,
      platformaticToKafkajsCpu: ratios,
      reopenTransactionalId: reopened,
    });
  } finally {
    await stopInfra();
  }
}

const RESTARTS = ['afterCleanExit', 'afterKill'] as const;

/**
 * A transactional id opened again by a new process, after its last process committed and exited
 * (every restart of an app) or was killed with SIGKILL in the middle of a transaction: how long
 * until the new one has committed, and what read_committed readers see (the committed records
 * alone), or the error.
 */
async function restart(
  ctx: Awaited<ReturnType<typeof benchContext>>['ctx'],
  client: Client,
  after: (typeof RESTARTS)[number],
): Promise<Record<string, unknown>> {
  const to = `${ctx.namespace}.clients.${client}.${after}`;
  await createTopicsAndWait(ctx.admin, [{ topic: to, numPartitions: 3 }]);
  const transactionalId = uniqueId(`clients-${client}-tx`);
  const job = { client, env: ctx.env, to, transactionalId };
  const expected = after === 'afterKill' ? RESTART_RECORDS : 2 * RESTART_RECORDS;
  if (after === 'afterKill')
    await inChild(
      { kind: 'hang', ...job },
      () => undefined,
      (child) => child.kill('SIGKILL'),
    );
  else await inChild({ kind: 'resume', ...job });
  const resumed = await inChild({ kind: 'resume', ...job }).catch((err: Error) => ({ type: 'failed' as const, error: err.message }));
  if (resumed.type !== 'resumed') {
    const error = resumed.type === 'failed' ? resumed.error : resumed.type;
    process.stderr.write(`${client}: reopening a transactional id ${after} failed: ${error}\n`);
    return { committed: false, error };
  }
  const visible = await countRecords(ctx.kafka, to);
  process.stderr.write(`${client}: reopening a transactional id ${after} committed in ${resumed.ms} ms; ${visible} records visible (${expected} expected)\n`);
  return { committed: true, msToCommit: resumed.ms, visibleRecords: visible, expectedRecords: expected };
}

/**
 * Runs a job in a fresh child process with the apps' runtime settings and resolves with its last
 * message ('done', 'resumed'); `onHanging` ends a child that says 'hanging' (the kill -9).
 */
function inChild(
  job: Job,
  onMessage: (m: ChildMessage) => void = () => undefined,
  onHanging?: (child: ReturnType<typeof fork>) => void,
): Promise<ChildMessage> {
  const runtime = appRuntimeSettings();
  const child = fork(__filename, ['--clients-child'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...runtime.env },
    execArgv: [...process.execArgv, ...runtime.nodeArgs],
  });
  return new Promise<ChildMessage>((resolve, reject) => {
    let last: ChildMessage | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('message', (m: ChildMessage) => {
      onMessage(m);
      if (m.type === 'ready') child.send(job);
      else if (m.type === 'hanging' && onHanging) onHanging(child);
      else if (m.type === 'done' || m.type === 'resumed' || m.type === 'failed') {
        last = m;
        child.send({ type: 'stop' });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (job.kind === 'hang' && signal === 'SIGKILL') resolve({ type: 'hanging' });
      else if (last?.type === 'failed') reject(new Error(last.error));
      else if (last) resolve(last);
      else reject(new Error(`the ${job.client} process exited (${code ?? signal}) without a result`));
    });
  });
}

/** A consumer's work in the child: start, and stop when told. */
interface Worker {
  stop(): Promise<void>;
}

/** Counts a run's work and says 'first' and 'done' to the parent. */
class Progress {
  private processed = 0;
  private startedAt = 0;
  private cpuAtFirst: NodeJS.CpuUsage | undefined;
  batches = 0;
  transactions = 0;

  constructor(private readonly expected: number) {}

  first(): void {
    if (this.cpuAtFirst) return;
    this.cpuAtFirst = process.cpuUsage();
    this.startedAt = performance.now();
    process.send!({ type: 'first' } satisfies ChildMessage);
  }

  batchDone(events: number): void {
    this.batches++;
    this.processed += events;
    if (this.processed !== this.expected) return;
    const cpu = process.cpuUsage(this.cpuAtFirst);
    const done: ChildMessage = {
      type: 'done',
      cpuMicros: cpu.user + cpu.system,
      seconds: (performance.now() - this.startedAt) / 1000,
      batches: this.batches,
      transactions: this.transactions,
    };
    process.send!(done);
  }
}

const COMMAND_VALUE = Buffer.alloc(1_200, 'c');
const LOG_VALUE = Buffer.alloc(300, 'l');
const CORRELATION = Buffer.from('c0');
/** A command's header, in each client's form: platformatic's default serialisers take Buffers, header names too. */
const HEADERS = { kafkajs: { 'correlation-id': CORRELATION }, platformatic: new Map([[Buffer.from('correlation-id'), CORRELATION]]) };

/** The two records the fan-out writes for an event, as the matcher writes a command and a log record. */
function fanOut<H>(key: Buffer | null, headers: H): { key: Buffer; value: Buffer; headers?: H }[] {
  const k = Buffer.concat([key ?? Buffer.alloc(0), Buffer.from('/trigger-0')]);
  return [
    { key: k, value: COMMAND_VALUE, headers },
    { key: k, value: LOG_VALUE },
  ];
}

async function kafkajsRun(job: Extract<Job, { kind: 'run' }>): Promise<Worker> {
  const config = loadBaseConfig('bench', job.env);
  const kafka = createKafka(config.kafka, createLogger({ app: 'bench', level: 'silent' }));
  const progress = new Progress(job.expected);
  const exactlyOnce = job.scenario === 'exactlyOnceFanOut';
  const producer = exactlyOnce
    ? kafka.producer({ transactionalId: job.groupId, idempotent: true, maxInFlightRequests: 1 })
    : kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: job.groupId, maxWaitTimeInMs: 100, maxBytesPerPartition: 1_048_576 });
  await consumer.connect();
  await consumer.subscribe({ topic: job.from, fromBeginning: true });
  await consumer.run({
    autoCommit: !exactlyOnce,
    eachBatch: async ({ batch }) => {
      progress.first();
      for (let i = 0; i < batch.messages.length; i += MAX_BATCH) {
        const messages = batch.messages.slice(i, i + MAX_BATCH);
        if (exactlyOnce) {
          const tx = await producer.transaction();
          await tx.send({ topic: job.to, messages: messages.flatMap((m) => fanOut(m.key, HEADERS.kafkajs)) });
          const next = (BigInt(messages[messages.length - 1].offset) + 1n).toString();
          await tx.sendOffsets({ consumerGroupId: job.groupId, topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
          await tx.commit();
          progress.transactions++;
        } else {
          await producer.send({ topic: job.to, messages: messages.map((m) => ({ key: m.key, value: m.value })) });
        }
        progress.batchDone(messages.length);
      }
    },
  });
  return {
    stop: async () => {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}

/**
 * A new transaction's first AddPartitionsToTxn is answered CONCURRENT_TRANSACTIONS while the last
 * one's markers are still being written; platformatic's default retry waits 1 s, three times (a
 * transaction a second, then a send that never settles), so it retries every 10 ms here: the
 * retry's delay does not decide the rate (BENCH_PLATFORMATIC_DEFAULT_RETRY=1 keeps the default).
 */
const PLATFORMATIC_RETRY = process.env.BENCH_PLATFORMATIC_DEFAULT_RETRY ? {} : { retries: 100, retryDelay: 10 };

function platformatic(): typeof Platformatic {
  // An ES module whose types resolve only by their path (this project resolves modules the CommonJS
  // way, which ignores its `exports`); Node.js 24 loads it with require().
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@platformatic/kafka') as typeof Platformatic;
}

async function platformaticRun(job: Extract<Job, { kind: 'run' }>): Promise<Worker> {
  const { Consumer, MessagesStreamModes, MessagesStreamFallbackModes } = platformatic();
  const bootstrapBrokers = job.env.KAFKA_BROKERS.split(',');
  const progress = new Progress(job.expected);
  const exactlyOnce = job.scenario === 'exactlyOnceFanOut';
  const producer = platformaticProducer(job.env, exactlyOnce ? job.groupId : undefined);
  const consumer = new Consumer({ clientId: 'bench', groupId: job.groupId, bootstrapBrokers, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
  const stream = await consumer.consume({
    topics: [job.from],
    autocommit: false,
    mode: MessagesStreamModes.COMMITTED,
    fallbackMode: MessagesStreamFallbackModes.EARLIEST,
    maxWaitTime: 100,
    maxBytes: 10 * 1_048_576,
    maxBytesPerPartition: 1_048_576,
  });
  // Messages arrive one at a time; a batch is what the stream holds when it runs dry (one fetch),
  // split by partition as the kafkajs run's batches are, and at most MAX_BATCH long.
  const pending = new Map<number, Platformatic.Message[]>();
  const flush = async () => {
    for (const [partition, messages] of pending) {
      pending.delete(partition);
      const last = messages[messages.length - 1];
      if (exactlyOnce) {
        const tx = await producer.beginTransaction();
        await tx.send({ messages: messages.flatMap((m) => fanOut(m.key, HEADERS.platformatic).map((r) => ({ ...r, topic: job.to }))) });
        await tx.addConsumer(consumer);
        await tx.addOffset(last);
        await tx.commit();
        progress.transactions++;
      } else {
        await producer.send({ messages: messages.map((m) => ({ topic: job.to, key: m.key, value: m.value })) });
        await last.commit();
      }
      progress.batchDone(messages.length);
    }
  };
  const loop = (async () => {
    for await (const message of stream) {
      progress.first();
      const batch = pending.get(message.partition) ?? [];
      pending.set(message.partition, batch);
      batch.push(message);
      if (stream.readableLength === 0 || batch.length >= MAX_BATCH) await flush();
    }
  })();
  loop.catch((err: Error) => process.send!({ type: 'failed', error: describeError(err) } satisfies ChildMessage));
  return {
    stop: async () => {
      await stream.close();
      await consumer.close(true);
      await producer.close();
    },
  };
}

/** Begins a transaction, writes RESTART_RECORDS records into it, says 'hanging' and waits to be killed. */
async function hang(job: Extract<Job, { kind: 'hang' }>): Promise<void> {
  const messages = Array.from({ length: RESTART_RECORDS }, (_, i) => ({ key: `hung-${i}`, value: 'left open' }));
  if (job.client === 'kafkajs') {
    const producer = transactionalKafkajs(job);
    await producer.connect();
    const tx = await producer.transaction();
    await tx.send({ topic: job.to, messages });
  } else {
    const producer = platformaticProducer(job.env, job.transactionalId);
    const tx = await producer.beginTransaction();
    await tx.send({ messages: messages.map((m) => ({ topic: job.to, key: Buffer.from(m.key), value: Buffer.from(m.value) })) });
  }
  process.send!({ type: 'hanging' } satisfies ChildMessage);
}

/** Opens the killed process's transactional id, writes RESTART_RECORDS records and commits them. */
async function resume(job: Extract<Job, { kind: 'resume' }>): Promise<() => Promise<void>> {
  const startedAt = performance.now();
  const messages = Array.from({ length: RESTART_RECORDS }, (_, i) => ({ key: `resumed-${i}`, value: randomUUID() }));
  const deadline = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`no commit within ${RESTART_TIMEOUT_MS} ms`)), RESTART_TIMEOUT_MS).unref(),
  );
  if (job.client === 'kafkajs') {
    const producer = transactionalKafkajs(job);
    await Promise.race([
      (async () => {
        await producer.connect();
        const tx = await producer.transaction();
        await tx.send({ topic: job.to, messages });
        await tx.commit();
      })(),
      deadline,
    ]);
    process.send!({ type: 'resumed', ms: Math.round(performance.now() - startedAt) } satisfies ChildMessage);
    return () => producer.disconnect();
  }
  const producer = platformaticProducer(job.env, job.transactionalId);
  await Promise.race([
    (async () => {
      const tx = await producer.beginTransaction();
      await tx.send({ messages: messages.map((m) => ({ topic: job.to, key: Buffer.from(m.key), value: Buffer.from(m.value) })) });
      await tx.commit();
    })(),
    deadline,
  ]);
  process.send!({ type: 'resumed', ms: Math.round(performance.now() - startedAt) } satisfies ChildMessage);
  return () => producer.close(true);
}

/** An idempotent platformatic producer with the bench's retry, transactional when given an id. */
function platformaticProducer(env: Record<string, string>, transactionalId?: string) {
  const { Producer } = platformatic();
  return new Producer({
    clientId: 'bench',
    bootstrapBrokers: env.KAFKA_BROKERS.split(','),
    idempotent: true,
    acks: -1,
    ...PLATFORMATIC_RETRY,
    ...(transactionalId ? { transactionalId } : {}),
  });
}

function transactionalKafkajs(job: Extract<Job, { kind: 'hang' | 'resume' }>): KafkajsProducer {
  const config = loadBaseConfig('bench', job.env);
  const kafka = createKafka(config.kafka, createLogger({ app: 'bench', level: 'silent' }));
  return kafka.producer({ transactionalId: job.transactionalId, idempotent: true, maxInFlightRequests: 1 });
}

/** An error and those it aggregates (platformatic nests the broker's error codes two deep), on one line. */
function describeError(err: Error & { errors?: Error[] }): string {
  const inner = (err.errors ?? []).map(describeError);
  return inner.length > 0 ? `${err.message} [${[...new Set(inner)].join('; ')}]` : err.message;
}

async function child(job: Job): Promise<() => Promise<void>> {
  if (job.kind === 'hang') {
    await hang(job);
    return async () => undefined;
  }
  if (job.kind === 'resume') return resume(job);
  const worker = await (job.client === 'kafkajs' ? kafkajsRun(job) : platformaticRun(job));
  return () => worker.stop();
}

if (process.argv.includes('--clients-child')) {
  let stop: (() => Promise<void>) | undefined;
  const fail = (err: Error) => {
    process.send!({ type: 'failed', error: describeError(err) } satisfies ChildMessage);
  };
  process.on('message', (m: Job | { type: 'stop' }) => {
    if ('type' in m) {
      // A stop that fails still ends the process: its figures are already with the parent.
      void (stop ?? (async () => undefined))()
        .catch(() => undefined)
        .finally(() => process.exit(0));
      return;
    }
    child(m).then((s) => (stop = s), fail);
  });
  process.send!({ type: 'ready' } satisfies ChildMessage);
}
