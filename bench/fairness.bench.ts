import { EventType } from '@triggers/contracts';
import { AppProcess, PipelineDriver, freePort, specPayload, startApp, waitFor, waitForHealthy, waitForTriggers } from '@triggers/testing';
import { percentile, report } from './bench-report';
import { benchContext } from './infra';
import { TimingReceiver, startTimingReceiver } from './webhook-receivers';

/** Quiet tenants, each at QUIET_RATE events/s; the noisy one sends NOISY_FACTOR times that. */
const QUIET_TENANTS = 10;
const QUIET_RATE = 10;
const NOISY_FACTOR = 10;
/** Seconds of each scenario (BENCH_SECONDS overrides; 10 with BENCH_QUICK). */
const SECONDS = Number(process.env.BENCH_SECONDS ?? (process.env.BENCH_QUICK ? 10 : 20));
/** The noisy tenant's slow endpoint answers after this long: 16 connections carry 64 a second of its 100. */
const SLOW_MS = 250;
const TICK_MS = 100;

type Endpoint = TimingReceiver;

/**
 * Fairness between tenants: ten quiet tenants at 10 events/s each, alone, then beside a noisy
 * tenant sending 10× as many to an endpoint that answers after 250 ms (a burst it cannot keep up
 * with), alone again, then beside one whose endpoint hangs; their p99 over both runs alone is the
 * floor. One matcher and one dispatcher, as processes; each
 * tenant's endpoint is an origin of its own. The figure is the quiet tenants' event → webhook p99
 * beside the noisy tenant over their p99 alone (`p99Ratio.burst`, `p99Ratio.hung`; the goal is
 * 1.25 at most).
 */
export async function fairnessBenchmark(): Promise<void> {
  const { ctx, stopInfra } = await benchContext();
  const driver = new PipelineDriver(ctx);
  const apps: AppProcess[] = [];
  const endpoints: Endpoint[] = [];
  try {
    const quiet: { endpoint: Endpoint; tenantId: string }[] = [];
    for (let t = 0; t < QUIET_TENANTS; t++) {
      const endpoint = await startTimingReceiver('ok', 0, '/hook');
      endpoints.push(endpoint);
      quiet.push({ endpoint, ...(await driver.webhookTrigger(endpoint.url)) });
    }
    const noisy = {} as Record<'burst' | 'hung', { endpoint: Endpoint; tenantId: string }>;
    for (const [scenario, reply] of [
      ['burst', 'slow'],
      ['hung', 'hang'],
    ] as const) {
      const endpoint = await startTimingReceiver(reply, SLOW_MS, '/hook');
      endpoints.push(endpoint);
      noisy[scenario] = { endpoint, ...(await driver.webhookTrigger(endpoint.url)) };
    }
    const env = { ...ctx.env, WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', LOG_LEVEL: 'warn' };
    for (const name of ['matcher', 'webhook-dispatcher']) {
      const app = startApp(name, { ...env, PORT: String(await freePort()) });
      apps.push(app);
      await waitForHealthy(app, 120_000);
      await waitForTriggers(app, QUIET_TENANTS + 2, 60_000);
    }

    const wrap = specPayload('agent-wrap-inbound.json').event as { type: EventType; payload: Record<string, unknown> };
    const events = (run: string, tenant: string, from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({ type: wrap.type, payload: { ...wrap.payload, agentInteractionId: `${run}-${tenant}-${from + i}` } }));
    /** Produces for SECONDS: every quiet tenant at QUIET_RATE, and the noisy one (if any) at NOISY_FACTOR × that; returns when each quiet event was sent. */
    const produce = async (run: string, loud?: { tenantId: string }) => {
      const sentAt = new Map<string, number>();
      const perTick = (QUIET_RATE * TICK_MS) / 1000;
      const t0 = Date.now();
      for (let k = 0; k < (SECONDS * 1000) / TICK_MS; k++) {
        const at = Date.now();
        await Promise.all([
          ...quiet.map((q) => driver.events(q.tenantId, events(run, q.tenantId, k * perTick, perTick))),
          ...(loud ? [driver.events(loud.tenantId, events(run, loud.tenantId, k * perTick * NOISY_FACTOR, perTick * NOISY_FACTOR))] : []),
        ]);
        for (const q of quiet) for (let i = 0; i < perTick; i++) sentAt.set(`${run}-${q.tenantId}-${k * perTick + i}`, at);
        const wait = t0 + (k + 1) * TICK_MS - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const arrivedAt = (id: string) => {
        for (const q of quiet) {
          const at = q.endpoint.arrivedAt.get(id);
          if (at !== undefined) return at;
        }
        return undefined;
      };
      await waitFor(() => [...sentAt.keys()].every((id) => arrivedAt(id) !== undefined), {
        timeoutMs: 300_000,
        intervalMs: 200,
        description: `the quiet tenants' ${sentAt.size} webhooks of ${run}`,
      });
      return [...sentAt].map(([id, at]) => arrivedAt(id)! - at);
    };
    const figures = (latencies: number[]) => {
      const sorted = [...latencies].sort((a, b) => a - b);
      return { samples: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
    };

    process.stderr.write(`fairness: ${QUIET_TENANTS} quiet tenants at ${QUIET_RATE}/s each, ${SECONDS} s per scenario\n`);
    await produce('warm-up');
    // The quiet tenants alone before each noisy scenario; their p99 over both runs is the floor.
    const aloneFirst = await produce('alone-1');
    const burst = figures(await produce('burst', noisy.burst));
    process.stderr.write(`beside a burst to a slow endpoint: ${JSON.stringify(burst)}\n`);
    // The burst's backlog drains before the next scenario (its endpoint keeps up at 64 a second).
    const burstSent = (SECONDS * 1000 * QUIET_RATE * NOISY_FACTOR) / 1000;
    await waitFor(() => noisy.burst.endpoint.arrivedAt.size >= burstSent, { timeoutMs: 300_000, intervalMs: 500, description: "the burst's backlog" });
    const aloneSecond = await produce('alone-2');
    const alone = { ...figures([...aloneFirst, ...aloneSecond]), runs: [figures(aloneFirst), figures(aloneSecond)] };
    process.stderr.write(`alone: ${JSON.stringify(alone)}\n`);
    // The hung endpoint's connections stay stuck until their headers time out: it runs last.
    const hung = figures(await produce('hung', noisy.hung));
    process.stderr.write(`beside a hung endpoint: ${JSON.stringify(hung)}\n`);
    const ratio = (x: { p99Ms: number }) => +(x.p99Ms / alone.p99Ms).toFixed(2);
    report('fairness', {
      setup: {
        quietTenants: QUIET_TENANTS,
        quietEventsPerSecondEach: QUIET_RATE,
        noisyEventsPerSecond: QUIET_RATE * NOISY_FACTOR,
        seconds: SECONDS,
        slowEndpointMs: SLOW_MS,
      },
      quietLatency: { alone, burst, hung },
      p99Ratio: { burst: ratio(burst), hung: ratio(hung) },
      goal: { p99RatioAtMost: 1.25 },
      noisyDelivered: { burst: noisy.burst.endpoint.arrivedAt.size, hung: noisy.hung.endpoint.arrivedAt.size },
    });
  } finally {
    await Promise.all(apps.map((a) => a.stop(15_000)));
    await Promise.all(endpoints.map((e) => e.close()));
    await driver.close();
    await stopInfra();
  }
}
