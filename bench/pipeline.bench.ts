import { EventType } from '@triggers/contracts';
import { EVENT_LOGS_COLLECTION } from '@triggers/mongo';
import {
  AppProcess,
  PipelineDriver,
  createTenantKey,
  seedMovableLeads,
  specPayload,
  startApi,
  startApp,
  freePort,
  uniqueId,
  waitFor,
  waitForHealthy,
} from '@triggers/testing';
import { percentile, report } from './bench-report';
import { CpuMeter } from './cpu-meter';
import { benchContext } from './infra';
import { startTimingReceiver } from './webhook-receivers';

const TENANTS = 10;
/** Events at full speed (BENCH_EVENTS overrides); one in LEAD_EVERY is a wrap that also moves its lead. */
const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000); // a multiple of TENANTS × LEAD_EVERY
const LEAD_EVERY = 20;
const FIXED_RATES = [500, 1_000];
const FIXED_SECONDS = 10;
const CONSUMERS = ['matcher', 'webhook-dispatcher', 'lead-mover', 'log-sink'] as const;

/**
 * The whole pipeline as processes (the API, matcher, dispatcher, lead-mover and log-sink) on the
 * test profile's Kafka, registry and FerretDB: agent.wrap events matched to a webhook trigger per
 * tenant (one in 20 also moves its lead), delivered to a local keep-alive receiver and logged into
 * FerretDB. At full speed: deliveries/s and CPU per delivered webhook summed over every process
 * (the apps and the servers; the receiver and producer apart), measured until every delivery is
 * also in the Event Logs; then event → webhook latency at fixed rates.
 */
export async function pipelineBenchmark(): Promise<void> {
  const { ctx, serverPids, stopInfra } = await benchContext();
  const driver = new PipelineDriver(ctx);
  const rx = await startTimingReceiver();
  const apps: AppProcess[] = [];
  try {
    const env = { ...ctx.env, WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', LOG_LEVEL: 'warn' };
    const { app: api, client } = await startApi(ctx, env);
    apps.push(api);
    const { db } = await ctx.mongo();
    const tenants = Array.from({ length: TENANTS }, (_, t) => `pipe-${t}-${uniqueId('t')}`);
    const leadsPerTenant = Math.ceil((EVENTS + FIXED_RATES.reduce((n, r) => n + r * FIXED_SECONDS, 0)) / TENANTS / LEAD_EVERY) + 10;
    for (const tenantId of tenants) {
      const tenant = client.withKey(await createTenantKey(ctx, tenantId));
      const hook = await tenant.post('/v1/triggers', {
        name: 'wraps to the CRM',
        eventType: 'agent.wrap',
        enabled: true,
        parameters: { conditions: [], actions: [{ action: 'webhook', parameters: { url: `${rx.url}/${tenantId}` } }] },
      });
      const mover = await tenant.post('/v1/triggers', {
        name: 'move wraps of campaign 1695',
        eventType: 'agent.wrap',
        enabled: true,
        parameters: {
          conditions: [{ reference: 'campaignId', operator: '=', value: '1695' }],
          actions: [{ action: 'lead.update.list', parameters: { 'lead.listId': '445' } }],
        },
      });
      if (hook.status !== 201 || mover.status !== 201) throw new Error(`could not create the triggers: ${hook.status} ${mover.status}`);
      await seedMovableLeads(
        db,
        tenantId,
        Array.from({ length: leadsPerTenant }, (_, i) => `${tenantId}-L${i}`),
      );
    }
    for (const name of CONSUMERS) {
      const app = startApp(name, { ...env, PORT: String(await freePort()) });
      apps.push(app);
      await waitForHealthy(app, 120_000);
    }
    const pids = Object.fromEntries(apps.map((a) => [a.name, a.child.pid]));

    const wrap = specPayload('agent-wrap-predictive-outbound.json').event as { type: EventType; payload: Record<string, unknown> };
    const leadCounters = new Map<string, number>();
    /** The i-th event of `run` for a tenant: a webhook, and a lead move for one in LEAD_EVERY. */
    const eventOf = (run: string, i: number) => {
      const tenantId = tenants[i % TENANTS];
      const payload: Record<string, unknown> = { ...wrap.payload, agentInteractionId: `${run}-${i}` };
      // Every LEAD_EVERY-th event of each tenant.
      if (Math.floor(i / TENANTS) % LEAD_EVERY === 0) {
        const n = leadCounters.get(tenantId) ?? 0;
        leadCounters.set(tenantId, n + 1);
        Object.assign(payload, { campaignId: '1695', leadId: `${tenantId}-L${n}` });
      }
      return { tenantId, event: { type: wrap.type, payload } };
    };
    const send = async (run: string, from: number, to: number): Promise<number> => {
      const byTenant = new Map<string, { type: EventType; payload: unknown }[]>();
      for (let i = from; i < to; i++) {
        const { tenantId, event } = eventOf(run, i);
        byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), event]);
      }
      const at = Date.now();
      await Promise.all([...byTenant].map(([tenantId, events]) => driver.events(tenantId, events)));
      return at;
    };
    const logs = db.collection(EVENT_LOGS_COLLECTION);
    const deliveredRecords = () => logs.countDocuments({ tenantId: { $in: tenants }, step: 'webhook.delivered' });

    // Full speed: every event produced as fast as the producer goes, the apps already warm.
    process.stderr.write(`pipeline: ${EVENTS} events at full speed over ${TENANTS} tenants\n`);
    const meter = new CpuMeter({ ...pids, kafka: serverPids.kafka, registry: serverPids.registry, ferretdb: serverPids.ferretdb });
    const receiverMeter = new CpuMeter({ receiverAndProducer: process.pid });
    const started = Date.now();
    for (let i = 0; i < EVENTS; i += 1000) await send('full', i, Math.min(EVENTS, i + 1000));
    await waitFor(() => rx.arrivedAt.size >= EVENTS, { timeoutMs: 900_000, intervalMs: 100, description: `${EVENTS} webhooks` });
    const deliveredAt = Math.max(...rx.arrivedAt.values());
    // The stretch ends when the lead moves and every log record are stored too, as the apps'
    // counters say: polling FerretDB here would put the bench's own load on it (and committed
    // offsets stop short of a transactional topic's last commit markers).
    const moves = EVENTS / LEAD_EVERY;
    const records = 2 * EVENTS + 2 * moves; // matched and delivered per event; matched and moved per lead event
    const counter = async (app: string, metric: string) => {
      const port = apps.find((a) => a.name === app)!.port;
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return [...text.matchAll(new RegExp(`^${metric}\\{[^}]*\\} (\\d+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    };
    await waitFor(async () => (await counter('lead-mover', 'triggers_lead_commands_total')) >= moves, {
      timeoutMs: 900_000,
      intervalMs: 200,
      description: `${moves} lead moves`,
    });
    const movedAt = Date.now();
    await waitFor(async () => (await counter('log-sink', 'triggers_log_sink_records_total')) >= records, {
      timeoutMs: 900_000,
      intervalMs: 200,
      description: `${records} log records stored`,
    });
    const loggedAt = Date.now();
    const cpu = meter.perUnit(EVENTS);
    const apart = receiverMeter.perUnit(EVENTS);
    // Then, once, that it all arrived: every delivery and move in the Event Logs.
    const stored = { delivered: await deliveredRecords(), moved: await logs.countDocuments({ tenantId: { $in: tenants }, step: 'lead.moved' }) };
    if (stored.delivered < EVENTS || stored.moved < moves) throw new Error(`the Event Logs lack records: ${JSON.stringify(stored)} of ${EVENTS} and ${moves}`);
    const appsCpu = Object.keys(pids).reduce((n, k) => n + cpu[k], 0);
    const fullSpeed = {
      deliveriesPerSecond: Math.round(EVENTS / ((deliveredAt - started) / 1000)),
      loggedPerSecond: Math.round(EVENTS / ((loggedAt - started) / 1000)),
      leadMoves: moves,
      leadMovesPerSecond: Math.round(moves / ((movedAt - started) / 1000)),
    };
    const cpuMicrosecondsPerDelivery = { ...cpu, apps: appsCpu, allProcesses: cpu.total, receiverAndProducerApart: apart.total };
    process.stderr.write(`full speed: ${JSON.stringify(fullSpeed)}; CPU µs per delivery ${JSON.stringify(cpuMicrosecondsPerDelivery)}\n`);

    // Fixed rates: event produced → its webhook at the receiver.
    const latencyAtFixedRate: { eventsPerSecond: number; seconds: number; samples: number; p50Ms: number; p99Ms: number }[] = [];
    for (const rate of FIXED_RATES) {
      process.stderr.write(`pipeline: ${rate} events/s for ${FIXED_SECONDS} s\n`);
      const run = `r${rate}`;
      const total = rate * FIXED_SECONDS;
      const tick = 50; // ms
      const perTick = (rate * tick) / 1000;
      const sentAt = new Map<string, number>();
      const t0 = Date.now();
      for (let i = 0, k = 0; i < total; i += perTick, k++) {
        const at = await send(run, i, Math.min(total, i + perTick));
        for (let j = i; j < Math.min(total, i + perTick); j++) sentAt.set(`${run}-${j}`, at);
        const wait = t0 + (k + 1) * tick - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      await waitFor(() => [...sentAt.keys()].every((id) => rx.arrivedAt.has(id)), {
        timeoutMs: 300_000,
        intervalMs: 100,
        description: `the ${rate}/s webhooks`,
      });
      const latencies = [...sentAt].map(([id, at]) => rx.arrivedAt.get(id)! - at).sort((a, b) => a - b);
      latencyAtFixedRate.push({
        eventsPerSecond: rate,
        seconds: FIXED_SECONDS,
        samples: latencies.length,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
      });
      process.stderr.write(`${rate}/s: ${JSON.stringify(latencyAtFixedRate[latencyAtFixedRate.length - 1])}\n`);
    }

    report('pipeline', {
      setup: { tenants: TENANTS, events: EVENTS, leadMoveEvery: LEAD_EVERY, processes: [...Object.keys(pids), 'kafka', 'registry', 'ferretdb'], partitions: 3 },
      fullSpeed,
      cpuMicrosecondsPerDelivery,
      latencyAtFixedRate,
    });
  } finally {
    await Promise.all(apps.map((a) => a.stop(10_000)));
    await rx.close();
    await driver.close();
    await stopInfra();
  }
}
