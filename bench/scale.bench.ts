import { Partitioners } from 'kafkajs';
import { EventType, eventKey, webhookBody } from '@triggers/contracts';
import { chunkBySize } from '@triggers/kafka';
import {
  AppProcess,
  PipelineDriver,
  TestContext,
  createTestContext,
  freePort,
  specPayload,
  startApp,
  uniqueId,
  waitFor,
  waitForConsumed,
  waitForHealthy,
  waitForStableGroup,
} from '@triggers/testing';
import { median, report } from './bench-report';
import { CpuMeter } from './cpu-meter';
import { benchContext } from './infra';
import { command, publishBenchTrigger } from './dispatcher.bench';
import { publishBenchTriggers } from './matcher.bench';
import { startBenchReceivers } from './webhook-receivers';

const QUICK = !!process.env.BENCH_QUICK;
const EVENTS = QUICK ? 12_000 : 60_000;
const DELIVERIES = QUICK ? 6_000 : 30_000;
const TENANTS = 10;
const TRIGGERS_PER_TENANT = 100;
const ENDPOINTS = 10;
/** Six partitions: one, two or three instances each hold a whole share. */
const PARTITIONS = 6;
const INSTANCES = [1, 2, 3] as const;
/**
 * Work each round sends and waits for before it meters: every instance is a fresh process, and
 * its first thousands of units run cold (JIT, connections, encoders), which is start-up, not the
 * cost of a unit of work.
 */
const warmUp = (units: number) => Math.round(units / 5);
/** Each instance count runs this often, in the order 1 2 3 3 2 1 …, so neither end is always measured later. */
const ROUNDS = QUICK ? 1 : 2;

type Counted = { instances: number; seconds: number; perUnit: number; broker: number; eventsPerBatch?: number };

/** Partition batches (each one transaction) the matcher instances have committed so far, from their /metrics. */
async function matcherBatches(apps: AppProcess[]): Promise<number> {
  let sum = 0;
  for (const app of apps) {
    const metrics = await (await fetch(`http://127.0.0.1:${app.port}/metrics`)).text();
    for (const m of metrics.matchAll(/^triggers_matcher_batch_seconds_count(?:\{[^}]*\})? (\d+)/gm)) sum += Number(m[1]);
  }
  return sum;
}

/**
 * What scaling out costs: 1, 2 and 3 instances of the matcher, then of the dispatcher, in one
 * group each, over the same work (60,000 events against 1,000 triggers, each matching one; 30,000
 * webhooks to 10 local endpoints), on six partitions. Every instance is up and the group stable
 * before the work is produced, and a fifth more is done first to warm them up; CPU is metered
 * from then until the work is done, summed over the instances, with the broker's beside it. `cpuPerUnitRatio` = 3 instances ÷ 1 (goal ≤ 1.2).
 */
export async function scaleBenchmark(): Promise<void> {
  process.env.TOPIC_PARTITIONS = String(PARTITIONS);
  const { serverPids, stopInfra } = await benchContext();
  const order = Array.from({ length: ROUNDS }, (_, r) => (r % 2 === 0 ? [...INSTANCES] : [...INSTANCES].reverse())).flat();
  try {
    const matcher: Counted[] = [];
    for (const n of order) matcher.push(await matcherRound(n, serverPids.kafka));
    const dispatcher: Counted[] = [];
    for (const n of order) dispatcher.push(await dispatcherRound(n, serverPids.kafka));
    const summary = (runs: Counted[], unit: string) =>
      Object.fromEntries(
        INSTANCES.map((n) => {
          const mine = runs.filter((r) => r.instances === n);
          return [
            n,
            {
              [`${unit}PerSecond`]: Math.round(median(mine.map((r) => (unit === 'events' ? EVENTS : DELIVERIES) / r.seconds))),
              cpuMicrosecondsPerUnit: median(mine.map((r) => r.perUnit)),
              brokerCpuMicrosecondsPerUnit: median(mine.map((r) => r.broker)),
              ...(mine[0].eventsPerBatch !== undefined ? { eventsPerTransaction: median(mine.map((r) => r.eventsPerBatch!)) } : {}),
              runs: mine.map((r) => r.perUnit),
            },
          ];
        }),
      ) as Record<number, { cpuMicrosecondsPerUnit: number; brokerCpuMicrosecondsPerUnit: number }>;
    const m = summary(matcher, 'events');
    const d = summary(dispatcher, 'deliveries');
    const ratio = (s: typeof m) => +(s[3].cpuMicrosecondsPerUnit / s[1].cpuMicrosecondsPerUnit).toFixed(3);
    const withBroker = (s: typeof m, n: number) => s[n].cpuMicrosecondsPerUnit + s[n].brokerCpuMicrosecondsPerUnit;
    report('scale', {
      setup: { events: EVENTS, triggers: TENANTS * TRIGGERS_PER_TENANT, deliveries: DELIVERIES, endpoints: ENDPOINTS, partitions: PARTITIONS, rounds: ROUNDS },
      matcher: m,
      dispatcher: d,
      cpuPerUnitRatio: { matcher: ratio(m), dispatcher: ratio(d) },
      cpuPerUnitWithBrokerRatio: {
        matcher: +(withBroker(m, 3) / withBroker(m, 1)).toFixed(3),
        dispatcher: +(withBroker(d, 3) / withBroker(d, 1)).toFixed(3),
      },
    });
  } finally {
    await stopInfra();
  }
}

/** Starts `n` instances of `app` in the context's group and waits until each answers and the group is stable with all of them. */
async function startInstances(ctx: TestContext, app: string, n: number, groupId: string, env: Record<string, string> = {}): Promise<AppProcess[]> {
  const apps: AppProcess[] = [];
  for (let i = 0; i < n; i++) {
    apps.push(startApp(app, { ...ctx.env, PORT: String(await freePort()), LOG_LEVEL: 'warn', MATCHER_INSTANCE_ID: uniqueId('scale'), ...env }));
  }
  await Promise.all(apps.map((a) => waitForHealthy(a, 120_000)));
  await waitForStableGroup(ctx, groupId, n);
  return apps;
}

async function matcherRound(n: number, kafkaPid: number | undefined): Promise<Counted> {
  const ctx = await createTestContext('bench-scale');
  await ctx.createTopics();
  const driver = new PipelineDriver(ctx);
  const wrap = specPayload('agent-wrap-predictive-outbound.json').event as { type: EventType; payload: unknown };
  let apps: AppProcess[] = [];
  try {
    await publishBenchTriggers(driver, TENANTS, TRIGGERS_PER_TENANT);
    const topic = ctx.config.kafka.topics['events.agent.wrap'];
    const messages = await Promise.all(
      Array.from({ length: warmUp(EVENTS) + EVENTS }, async (_, i) => {
        const tenantId = `tenant-${i % TENANTS}`;
        const eventId = `evt-${i}`;
        return { key: eventKey(tenantId, eventId), value: await ctx.serde.encode('events.agent.wrap', { tenantId, eventId, ...wrap }) };
      }),
    );
    const groupId = `${ctx.namespace}-matcher`;
    apps = await startInstances(ctx, 'matcher', n, groupId);
    process.stderr.write(`matcher × ${n}: ${EVENTS} events after ${warmUp(EVENTS)} to warm up\n`);
    await sendAll(ctx, topic, messages.slice(0, warmUp(EVENTS)));
    await waitForConsumed(ctx, groupId, topic, 600_000);
    const started = Date.now();
    const meter = new CpuMeter({ ...Object.fromEntries(apps.map((a, i) => [`matcher${i}`, a.child.pid])), kafka: kafkaPid });
    const batchesBefore = await matcherBatches(apps);
    await sendAll(ctx, topic, messages.slice(warmUp(EVENTS)));
    await waitForConsumed(ctx, groupId, topic, 600_000);
    const batches = (await matcherBatches(apps)) - batchesBefore;
    return { ...counted(n, started, meter.perUnit(EVENTS), 'matcher'), eventsPerBatch: Math.round(EVENTS / batches) };
  } finally {
    await Promise.all(apps.map((a) => a.stop(10_000)));
    await driver.close();
    await ctx.close();
  }
}

async function dispatcherRound(n: number, kafkaPid: number | undefined): Promise<Counted> {
  const ctx = await createTestContext('bench-scale');
  await ctx.createTopics();
  const rx = await startBenchReceivers(ENDPOINTS, warmUp(DELIVERIES) + DELIVERIES);
  const driver = new PipelineDriver(ctx);
  let apps: AppProcess[] = [];
  try {
    await publishBenchTrigger(driver);
    const body = webhookBody('agent.wrap', specPayload('agent-wrap-predictive-outbound.json').event.payload);
    const messages = await Promise.all(
      Array.from({ length: warmUp(DELIVERIES) + DELIVERIES }, async (_, i) => {
        const c = command(`${rx.urls[i % ENDPOINTS]}/hook/${i}`, i, body);
        return { key: c.commandId, value: await ctx.serde.encode('webhookCommands', c) };
      }),
    );
    apps = await startInstances(ctx, 'webhook-dispatcher', n, `${ctx.namespace}-webhook-dispatcher`, { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' });
    const topic = ctx.config.kafka.topics.webhookCommands;
    process.stderr.write(`dispatcher × ${n}: ${DELIVERIES} commands after ${warmUp(DELIVERIES)} to warm up\n`);
    await sendAll(ctx, topic, messages.slice(0, warmUp(DELIVERIES)));
    await waitFor(() => rx.distinct() >= warmUp(DELIVERIES), { timeoutMs: 600_000, intervalMs: 100, description: 'the warm-up deliveries' });
    const started = Date.now();
    const meter = new CpuMeter({ ...Object.fromEntries(apps.map((a, i) => [`dispatcher${i}`, a.child.pid])), kafka: kafkaPid });
    await sendAll(ctx, topic, messages.slice(warmUp(DELIVERIES)));
    const total = warmUp(DELIVERIES) + DELIVERIES;
    await waitFor(() => rx.distinct() >= total, { timeoutMs: 600_000, intervalMs: 100, description: `${total} deliveries` });
    return counted(n, started, meter.perUnit(DELIVERIES), 'dispatcher');
  } finally {
    await Promise.all(apps.map((a) => a.stop(10_000)));
    await driver.close();
    await rx.close();
    await ctx.close();
  }
}

/**
 * Sends encoded messages at once (in requests of at most 512 KB), so the instances find the work
 * waiting rather than trickling in at the speed of encoding it.
 */
async function sendAll(ctx: TestContext, topic: string, messages: { key: string; value: Buffer }[]): Promise<void> {
  const producer = ctx.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await Promise.all(chunkBySize(messages, 512 * 1024).map((chunk) => producer.send({ topic, messages: chunk })));
  } finally {
    await producer.disconnect();
  }
}

/** The instances' CPU per unit summed, the broker's apart. */
function counted(n: number, started: number, cpu: Record<string, number>, prefix: string): Counted {
  const perUnit = Object.entries(cpu)
    .filter(([name]) => name.startsWith(prefix))
    .reduce((sum, [, v]) => sum + v, 0);
  const result = { instances: n, seconds: (Date.now() - started) / 1000, perUnit, broker: cpu.kafka };
  process.stderr.write(`${prefix} × ${n}: ${JSON.stringify(result)}\n`);
  return result;
}
