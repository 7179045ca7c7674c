import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Partitioners, Producer } from 'kafkajs';
import { Pool } from 'undici';
import { HEADERS, WebhookCommand, triggerKey, logIdFor, newLogRecord, newWebhookCommand, webhookBody } from '@triggers/contracts';
import { chunkBySize, createTopicsAndWait } from '@triggers/kafka';
import { AppProcess, PipelineDriver, TestContext, freePort, specPayload, startApp, uniqueId, waitFor, waitForHealthy } from '@triggers/testing';
import { BASELINE_RUNS, RUNTIME_ROUNDS, appMemoryMB, compareRuntimeVariants, inAlternatingPairs, median, percentile, report } from './bench-report';
import { CpuMeter } from './cpu-meter';
import { benchContext } from './infra';
import { TRACING_SAMPLE_RATIO, startOtlpSink } from './otlp-sink';
import { startBenchReceivers } from './webhook-receivers';

const DELIVERIES = 30_000;
const CONNECTIONS = 16; // the dispatcher's default per origin, and the raw pool's size
const WAITING_RETRIES = 100_000;
/** Runs of each 100-endpoint scenario: an even number, so each order of the pair runs equally often. */
const HUNG_PAIRS = 4;
const LATENCY_RATE = 1_000;
/** Log records in the log topic before a dispatcher starts (startupWithLogBacklogMs). */
const LOG_BACKLOG = 1_000_000;
const LATENCY_SECONDS = 10;
/**
 * Sent at the same rate before the measured seconds and left out: a cold process's first requests
 * (registry look-ups, new connections, JIT) are start-up, not steady latency. Measured per second
 * after a fresh start: the first 3-5 seconds run at 0.5-1.4 s (the cold process delivers fewer
 * than 1,000 a second, and then drains that backlog), and from then on p99 is 33-140 ms.
 */
const WARM_UP_SECONDS = 5;
const TENANT = 'bench-tenant';
const TRIGGER = 'bench-trigger';

/**
 * The webhook-dispatcher as a process delivering to local keep-alive receivers (in a worker
 * thread), beside a bare undici Pool posting the same bodies in the same run; then the same with
 * 100 endpoints, all healthy and with one that never answers; latency at a fixed rate; and the
 * dispatcher's memory with 100,000 commands waiting in the retry tier.
 */
export async function dispatcherBenchmark(): Promise<void> {
  const { ctx, serverPids, stopInfra } = await benchContext();
  const driver = new PipelineDriver(ctx);
  const producer = ctx.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const body = webhookBody('agent.wrap', specPayload('agent-wrap-predictive-outbound.json').event.payload);
  try {
    await publishBenchTrigger(driver);

    process.stderr.write(`raw undici Pool: ${DELIVERIES} posts, ${BASELINE_RUNS} runs\n`);
    const rawMeter = new CpuMeter({ clientAndReceivers: process.pid });
    const rawRuns: number[] = [];
    for (let run = 0; run < BASELINE_RUNS; run++) rawRuns.push(await rawUndici(body));
    const raw = median(rawRuns);
    const rawCpu = rawMeter.perUnit(DELIVERIES * BASELINE_RUNS);
    process.stderr.write(`raw undici Pool in a process of its own: ${DELIVERIES} posts, ${BASELINE_RUNS} runs\n`);
    const rawClientRuns: number[] = [];
    for (let run = 0; run < BASELINE_RUNS; run++) rawClientRuns.push(await rawUndiciClientCpu(body));
    rawCpu.clientAlone = median(rawClientRuns);

    if (process.env.BENCH_RUNTIME) {
      return await compareRuntimeVariants('dispatcher', 'PerDelivery', RUNTIME_ROUNDS, async (env) => {
        const run = await scenario(ctx, producer, body, 1, -1, serverPids, env);
        return { cpu: run.cpu.dispatcher, rssMB: run.rssMB };
      });
    }
    process.stderr.write(`dispatcher, one endpoint: ${DELIVERIES} deliveries\n`);
    const single = await scenario(ctx, producer, body, 1, -1, serverPids);
    process.stderr.write(`the dispatcher's Kafka work alone: ${DELIVERIES} commands\n`);
    const kafkaSide = await kafkaSideAlone(ctx, producer, body, serverPids);
    const cpuMicrosecondsPerDelivery = { rawUndiciPool: rawCpu, kafkaSideAlone: kafkaSide.cpu, dispatcherOneEndpoint: single.cpu };
    // The dispatcher's and the broker's CPU per delivery against the floor of the same work: the
    // Kafka side alone (consume, one log record per command, exactly once; broker included) and
    // the raw client's own CPU per POST (without the receivers).
    const floor = kafkaSide.cpu.kafkaSide + (kafkaSide.cpu.kafka ?? 0) + rawCpu.clientAlone;
    const ratios = { cpuPerDeliveryToFloor: +((single.cpu.dispatcher + (single.cpu.kafka ?? 0)) / floor).toFixed(2) };
    process.stderr.write(`CPU per delivery to the floor: ${ratios.cpuPerDeliveryToFloor} (floor ${floor} µs)\n`);
    process.stderr.write(`dispatcher, one endpoint, tracing at ${TRACING_SAMPLE_RATIO * 100}% sampling\n`);
    const sink = await startOtlpSink();
    const traced = await scenario(ctx, producer, body, 1, -1, serverPids, sink.env);
    await sink.close();
    const tracing = {
      sampleRatio: TRACING_SAMPLE_RATIO,
      spansExported: sink.spans(),
      dispatcherCpuMicrosecondsPerDelivery: { off: single.cpu.dispatcher, on: traced.cpu.dispatcher },
      cpuPerDeliveryRatio: +(traced.cpu.dispatcher / single.cpu.dispatcher).toFixed(3),
    };
    process.stderr.write(`tracing: ${JSON.stringify(tracing)}\n`);
    if (process.env.BENCH_QUICK) {
      return void process.stderr.write(
        `one endpoint: ${Math.round(single.rate)}/s, raw ${Math.round(raw)}/s, Kafka side alone ${Math.round(kafkaSide.rate)}/s; CPU µs per delivery ${JSON.stringify(cpuMicrosecondsPerDelivery)}; ratios ${JSON.stringify(ratios)}\n`,
      );
    }
    // All healthy and one hung, HUNG_PAIRS times each, in alternating pairs; a run swings by 10-30%
    // on a shared machine, so the slowdown compares medians.
    const hundredRuns: number[] = [];
    const oneHungRuns: number[] = [];
    await inAlternatingPairs(
      HUNG_PAIRS,
      async (run) => {
        process.stderr.write(`dispatcher, 100 endpoints: ${DELIVERIES} deliveries (${run + 1} of ${HUNG_PAIRS})\n`);
        hundredRuns.push((await scenario(ctx, producer, body, 100, -1)).rate);
      },
      async (run) => {
        process.stderr.write(`dispatcher, 100 endpoints, one never answers (${run + 1} of ${HUNG_PAIRS})\n`);
        oneHungRuns.push((await scenario(ctx, producer, body, 100, 0)).rate);
      },
    );
    const hundred = median(hundredRuns);
    const oneHung = median(oneHungRuns);
    process.stderr.write(`latency at ${LATENCY_RATE}/s for ${LATENCY_SECONDS} s\n`);
    const latency = await latencyAtRate(ctx, producer, body);
    process.stderr.write(`memory with ${WAITING_RETRIES} commands waiting in the retry tier\n`);
    const waiting = await waitingRetries(ctx, producer, body);
    process.stderr.write(`start-up to the first delivery, with ${LOG_BACKLOG} records of the last 30 minutes in the log topic, and with none\n`);
    const startup = await startupWithLogBacklog(ctx, producer, body);

    report('dispatcher', {
      setup: {
        deliveries: DELIVERIES,
        bodyBytes: Buffer.byteLength(body),
        connectionsPerOrigin: CONNECTIONS,
        partitions: 3,
        signed: true,
        logRecordPerAttempt: true,
      },
      rawUndiciPoolPerSecond: Math.round(raw),
      rawUndiciPoolRunsPerSecond: rawRuns.map(Math.round),
      dispatcherOneEndpointPerSecond: Math.round(single.rate),
      ratioToRaw: +(single.rate / raw).toFixed(2),
      kafkaSideAlonePerSecond: Math.round(kafkaSide.rate),
      dispatcher100EndpointsPerSecond: Math.round(hundred),
      dispatcher100EndpointsOneHungPerSecond: Math.round(oneHung),
      dispatcher100EndpointsRunsPerSecond: { allHealthy: hundredRuns.map(Math.round), oneHung: oneHungRuns.map(Math.round) },
      hungEndpointSlowdown: +(1 - oneHung / hundred).toFixed(3),
      // Each pair's own slowdown. A run ends once every delivery to a healthy endpoint arrived,
      // and a failed one would wait a whole retry tier: a finished run failed none of them.
      hungEndpointSlowdownByPair: hundredRuns.map((h, i) => +(1 - oneHungRuns[i] / h).toFixed(3)),
      latencyAtFixedRate: { deliveriesPerSecond: LATENCY_RATE, warmUpSeconds: WARM_UP_SECONDS, seconds: LATENCY_SECONDS, ...latency },
      dispatcherRssMB: { afterOneEndpointRun: single.rssMB, with100kWaitingRetries: waiting.rssMB },
      cpuMicrosecondsPerDelivery,
      ratios,
      startupWithLogBacklogMs: startup.withBacklogMs,
      startupWithEmptyLogMs: startup.emptyMs,
      logBacklogRecords: LOG_BACKLOG,
      // Cores the whole path (dispatcher, receivers, broker) would keep busy at 10,000 deliveries/s.
      coresFor10kPerSecond: +((single.cpu.total * 10_000) / 1e6).toFixed(2),
      tracing,
    });
  } finally {
    await producer.disconnect();
    await driver.close();
    await stopInfra();
  }
}

/** The bare client: an undici Pool of the same size posting every body, as many at once as it has connections × 4. */
async function rawUndici(body: string): Promise<number> {
  const rx = await startBenchReceivers(1, DELIVERIES);
  const pool = new Pool(rx.urls[0], { connections: CONNECTIONS, pipelining: 1 });
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS * 4 }, async () => {
      while (next < DELIVERIES) {
        const i = next++;
        const res = await pool.request({ path: `/hook/${i}`, method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await res.body.text();
      }
    }),
  );
  const rate = DELIVERIES / ((Date.now() - started) / 1000);
  await pool.close();
  await rx.close();
  return rate;
}

/**
 * The raw client's own CPU per POST, in microseconds: the same Pool and concurrency as
 * {@link rawUndici}, in a process of its own that meters itself, while the receivers run here.
 */
async function rawUndiciClientCpu(body: string): Promise<number> {
  const rx = await startBenchReceivers(1, DELIVERIES);
  const script = `
    const { Pool } = require('undici');
    const [url, total, connections] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
    process.once('message', async (body) => {
      const pool = new Pool(url, { connections, pipelining: 1 });
      const before = process.cpuUsage();
      let next = 0;
      await Promise.all(Array.from({ length: connections * 4 }, async () => {
        while (next < total) {
          const i = next++;
          const res = await pool.request({ path: '/hook/' + i, method: 'POST', headers: { 'content-type': 'application/json' }, body });
          await res.body.text();
        }
      }));
      const used = process.cpuUsage(before);
      await pool.close();
      process.send((used.user + used.system) / total, () => process.exit(0));
    });`;
  // `node -e script url total connections`: the script reads them as argv[1..3].
  const child = spawn(process.execPath, ['-e', script, rx.urls[0], String(DELIVERIES), String(CONNECTIONS)], {
    cwd: process.cwd(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const perPost = new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve(Number(m)));
      child.once('exit', (code) => reject(new Error(`the raw client exited with ${code}`)));
    });
    child.send(body);
    return Math.round(await perPost);
  } finally {
    child.kill();
    await rx.close();
  }
}

/**
 * A dispatcher's start-up to its first delivery with `LOG_BACKLOG` records of the last 30
 * minutes in its log topic, against the same with an empty log topic: nothing the dispatcher
 * decides depends on the log topic, so the two should not differ.
 */
async function startupWithLogBacklog(ctx: TestContext, producer: Producer, body: string): Promise<{ withBacklogMs: number; emptyMs: number }> {
  const firstDelivery = async (backlog: number): Promise<number> => {
    const topics = await dispatcherTopics(ctx);
    if (backlog > 0) {
      const now = Date.now();
      const record = newLogRecord({
        logId: 'x',
        tenantId: TENANT,
        triggerId: TRIGGER,
        eventId: 'e',
        eventType: 'agent.wrap',
        step: 'webhook.delivered',
        status: 'ok',
        time: now - 15 * 60_000,
        attempt: 1,
        message: 'delivered: HTTP 204 in 1 ms (attempt 1)',
      });
      const value = await ctx.serde.encode('log', record);
      const batch = Array.from({ length: 10_000 }, (_, i) => ({
        key: `${TENANT}/t${i % 100}`,
        value,
        headers: { [HEADERS.logStep]: 'webhook.delivered', [HEADERS.logId]: `l${i}` },
      }));
      for (let sent = 0; sent < backlog; sent += batch.length)
        for (const chunk of chunkBySize(batch, 512 * 1024)) await producer.send({ topic: topics.logTopic, messages: chunk });
    }
    const rx = await startBenchReceivers(1, 1);
    await produceCommands(ctx, producer, topics.commandTopic, [command(`${rx.urls[0]}/hook/0`, 0, body)]);
    const started = Date.now();
    const { app } = await startDispatcher(ctx, topics);
    try {
      await waitFor(() => rx.arrivedAt(0) > 0, { timeoutMs: 300_000, intervalMs: 10, description: 'the first delivery' });
      return rx.arrivedAt(0) - started;
    } finally {
      await app.stop(10_000);
      await rx.close();
    }
  };
  const emptyMs = await firstDelivery(0);
  const withBacklogMs = await firstDelivery(LOG_BACKLOG);
  return { withBacklogMs, emptyMs };
}

/** The trigger every bench command belongs to, with a signing secret (the dispatcher holds the webhooks of a trigger without one). */
export function publishBenchTrigger(driver: PipelineDriver): Promise<void> {
  return driver.trigger(TENANT, TRIGGER, {
    version: 1,
    name: 'bench',
    eventType: 'agent.wrap',
    enabled: true,
    conditions: [],
    actions: [{ action: 'webhook', parameters: { url: 'http://127.0.0.1/' } }],
    webhookSecrets: [{ id: 's1', secret: `whsec_${randomBytes(24).toString('base64')}`, notAfter: null }],
  });
}

export const command = (url: string, i: number, body: string, now = Date.now()): WebhookCommand =>
  newWebhookCommand({
    tenantId: TENANT,
    triggerId: TRIGGER,
    eventId: `evt-${i}-${now}`,
    eventType: 'agent.wrap',
    actionIndex: 0,
    url,
    body,
    origin: 'event',
    now,
  });

export async function produceCommands(
  ctx: TestContext,
  producer: Producer,
  topic: string,
  commands: WebhookCommand[],
  headers: (c: WebhookCommand) => Record<string, string> = () => ({}),
): Promise<void> {
  for (let i = 0; i < commands.length; i += 1000) {
    const messages = await Promise.all(
      commands.slice(i, i + 1000).map(async (c) => ({ key: c.commandId, value: await ctx.serde.encode('webhookCommands', c), headers: headers(c) })),
    );
    await producer.send({ topic, messages });
  }
}

interface DispatcherTopics {
  id: string;
  commandTopic: string;
  retryTopic: string;
  logTopic: string;
}

/**
 * Fresh command, retry and log topics (and, through the id, a fresh group), so each run reads only
 * its own commands and its own log records.
 */
async function dispatcherTopics(ctx: TestContext): Promise<DispatcherTopics> {
  const id = uniqueId('d');
  const topics = {
    id,
    commandTopic: `${ctx.namespace}.bench.commands.${id}`,
    retryTopic: `${ctx.namespace}.bench.retry.${id}`,
    logTopic: `${ctx.namespace}.bench.log.${id}`,
  };
  await createTopicsAndWait(
    ctx.admin,
    [topics.commandTopic, topics.retryTopic, topics.logTopic].map((topic) => ({ topic, numPartitions: 3 })),
  );
  return topics;
}

async function startDispatcher(ctx: TestContext, topics?: DispatcherTopics, env: Record<string, string> = {}): Promise<{ app: AppProcess } & DispatcherTopics> {
  const { id, commandTopic, retryTopic, logTopic } = topics ?? (await dispatcherTopics(ctx));
  const app = startApp(
    'webhook-dispatcher',
    {
      ...ctx.env,
      PORT: String(await freePort()),
      KAFKA_GROUP_ID: `${ctx.namespace}-${id}`,
      TOPIC_WEBHOOK_COMMANDS: commandTopic,
      TOPIC_WEBHOOK_RETRY: retryTopic,
      TOPIC_LOG: logTopic,
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
      LOG_LEVEL: 'warn',
      ...env,
      // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the dispatcher.
    },
    undefined,
    process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [],
  );
  await waitForHealthy(app, 120_000);
  return { app, id, commandTopic, retryTopic, logTopic };
}

/**
 * Deliveries/s with every command waiting before the dispatcher starts, from the first arrival
 * to the last one of the endpoints that answer.
 */
async function scenario(
  ctx: TestContext,
  producer: Producer,
  body: string,
  endpoints: number,
  hung: number,
  serverPids: Record<string, number | undefined> = {},
  env: Record<string, string> = {},
): Promise<{ rate: number; rssMB: number; cpu: Record<string, number> }> {
  const rx = await startBenchReceivers(endpoints, DELIVERIES, hung);
  // Every command is on its topic before the dispatcher starts: producing them does not share
  // the machine with the deliveries being measured.
  const topics = await dispatcherTopics(ctx);
  const commands = Array.from({ length: DELIVERIES }, (_, i) => command(`${rx.urls[i % endpoints]}/hook/${i}`, i, body));
  await produceCommands(ctx, producer, topics.commandTopic, commands);
  const { app } = await startDispatcher(ctx, topics, env);
  const meter = new CpuMeter({ dispatcher: app.child.pid, receivers: process.pid, kafka: serverPids.kafka });
  try {
    const answered = commands.map((_, i) => i).filter((i) => i % endpoints !== hung);
    await waitFor(() => answered.every((i) => rx.arrivedAt(i) > 0), { timeoutMs: 600_000, intervalMs: 100, description: 'every answered delivery' });
    const times = answered.map((i) => rx.arrivedAt(i));
    const rate = answered.length / ((Math.max(...times) - Math.min(...times)) / 1000);
    return { rate, rssMB: (await appMemoryMB(app.port)).rss, cpu: meter.perUnit(answered.length) };
  } finally {
    await app.stop(10_000);
    await rx.close();
  }
}

/**
 * What kafkajs alone allows the dispatcher, with no HTTP, signing or Avro per message: the same
 * group consumer reading the same commands, and for each one a delivered-attempt log record of
 * the dispatcher's size (made once up front) committed with the batch's offset in one transaction.
 */
async function kafkaSideAlone(
  ctx: TestContext,
  producer: Producer,
  body: string,
  serverPids: Record<string, number | undefined>,
): Promise<{ rate: number; cpu: Record<string, number> }> {
  const { commandTopic } = await dispatcherTopics(ctx);
  const commands = Array.from({ length: DELIVERIES }, (_, i) => command(`http://127.0.0.1:9/hook/${i}`, i, body));
  await produceCommands(ctx, producer, commandTopic, commands);
  const sample = commands[0];
  const requestHeaders = {
    'content-type': 'application/json',
    'user-agent': 'Triggers-Webhooks/1.0',
    'webhook-id': sample.commandId,
    'webhook-timestamp': '1764000000',
    'webhook-signature': `v1,${randomBytes(32).toString('base64')}`,
  };
  const record = newLogRecord({
    logId: logIdFor(sample.commandId, 'webhook.delivered'),
    tenantId: TENANT,
    triggerId: TRIGGER,
    eventId: sample.eventId,
    eventType: sample.eventType,
    commandId: sample.commandId,
    step: 'webhook.delivered',
    status: 'ok',
    time: Date.now(),
    attempt: 1,
    message: 'delivered: HTTP 204 in 1 ms (attempt 1)',
    http: {
      method: 'POST',
      url: sample.url,
      requestHeaders,
      requestBody: body,
      responseStatus: 204,
      responseHeaders: { date: new Date().toUTCString(), connection: 'keep-alive', 'keep-alive': 'timeout=5' },
      responseBody: '',
      responseTruncated: false,
      durationMs: 1,
      errorClass: null,
    },
  });
  const logValue = await ctx.serde.encode('log', record);
  // Exactly once, as the dispatcher: per partition, a transaction of its own id holds a batch's
  // log records and the batch's next offset.
  const groupId = uniqueId('kafka-side');
  const producers = new Map<number, Promise<Producer>>();
  const producerOf = (partition: number) => {
    let p = producers.get(partition);
    if (!p) {
      const tx = ctx.kafka.producer({
        transactionalId: `${groupId}-${partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      producers.set(partition, (p = tx.connect().then(() => tx)));
    }
    return p;
  };
  const consumer = ctx.kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: commandTopic, fromBeginning: true });
  const meter = new CpuMeter({ kafkaSide: process.pid, kafka: serverPids.kafka });
  let done = 0;
  let started = 0;
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      started ||= Date.now();
      const headers = { [HEADERS.correlationId]: sample.eventId };
      const records = batch.messages.map(() => ({ key: triggerKey(TENANT, TRIGGER), value: logValue, headers }));
      const transaction = await (await producerOf(batch.partition)).transaction();
      for (const chunk of chunkBySize(records, 512 * 1024)) await transaction.send({ topic: ctx.config.kafka.topics.log, messages: chunk });
      await transaction.sendOffsets({
        consumerGroupId: groupId,
        topics: [{ topic: commandTopic, partitions: [{ partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }] }],
      });
      await transaction.commit();
      done += batch.messages.length;
    },
  });
  await waitFor(() => done >= DELIVERIES, { timeoutMs: 300_000, intervalMs: 20, description: 'the Kafka side alone' });
  const rate = DELIVERIES / ((Date.now() - started) / 1000);
  const cpu = meter.perUnit(DELIVERIES);
  await consumer.disconnect();
  for (const p of producers.values()) await (await p).disconnect();
  return { rate, cpu };
}

/** Command produced → request at the receiver, at a steady rate, after a warm-up at that rate. */
async function latencyAtRate(
  ctx: TestContext,
  producer: Producer,
  body: string,
): Promise<{ samples: number; p50Ms: number; p99Ms: number; warmUpMaxMs: number }> {
  const warmUp = LATENCY_RATE * WARM_UP_SECONDS;
  const total = warmUp + LATENCY_RATE * LATENCY_SECONDS;
  const rx = await startBenchReceivers(1, total);
  const { app, commandTopic } = await startDispatcher(ctx);
  try {
    const sentAt = new Float64Array(total);
    const perTick = LATENCY_RATE / 20;
    const start = Date.now();
    for (let sent = 0; sent < total; sent += perTick) {
      const now = Date.now();
      const batch = Array.from({ length: perTick }, (_, k) => command(`${rx.urls[0]}/hook/${sent + k}`, sent + k, body, now));
      for (let k = 0; k < perTick; k++) sentAt[sent + k] = now;
      await produceCommands(ctx, producer, commandTopic, batch);
      const due = start + ((sent + perTick) / LATENCY_RATE) * 1000;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    }
    await waitFor(() => rx.distinct() >= total, { timeoutMs: 60_000, description: 'every latency sample' });
    const all = Array.from({ length: total }, (_, i) => rx.arrivedAt(i) - sentAt[i]);
    const latencies = all.slice(warmUp).sort((a, b) => a - b);
    return { samples: latencies.length, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), warmUpMaxMs: Math.max(...all.slice(0, warmUp)) };
  } finally {
    await app.stop(10_000);
    await rx.close();
  }
}

/** RSS once the dispatcher has paused every retry partition in front of 100,000 commands due in an hour. */
async function waitingRetries(ctx: TestContext, producer: Producer, body: string): Promise<{ rssMB: number }> {
  const { app, retryTopic } = await startDispatcher(ctx);
  try {
    const dueAt = Date.now() + 3_600_000;
    const commands = Array.from({ length: WAITING_RETRIES }, (_, i) => ({ ...command('http://127.0.0.1:9/hook', i, body), attempt: 2, dueAt }));
    await produceCommands(ctx, producer, retryTopic, commands, () => ({ [HEADERS.dueAt]: String(dueAt) }));
    await waitFor(
      async () => {
        const health = (await (await fetch(`http://127.0.0.1:${app.port}/healthz`)).json()) as {
          checks: { webhookConsumer?: { detail?: { waitingRetries?: unknown[] } } };
        };
        return (health.checks.webhookConsumer?.detail?.waitingRetries?.length ?? 0) === 3;
      },
      { timeoutMs: 60_000, description: 'all three retry partitions paused' },
    );
    return { rssMB: (await appMemoryMB(app.port)).rss };
  } finally {
    await app.stop(10_000);
  }
}
