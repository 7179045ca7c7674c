import { loadInfraConfig } from '@triggers/config';
import {
  AppProcess,
  LocalInfra,
  PipelineDriver,
  createTenantKey,
  freePort,
  repoRoot,
  startApi,
  startApp,
  useTestContext,
  waitFor,
  waitForHealthy,
  waitForStableGroup,
} from '@triggers/testing';
import { CONSUMERS, Consumer, PipelineScenario, percentile, prng, runSeed, sleep } from '../system/pipeline-scenario';

/** How long app instances are killed, stopped and added after the rolling restart. */
const CHURN_MS = 60_000;

type FaultKind = 'broker restart' | 'broker kill -9' | 'kill -9' | 'scale in' | 'scale out';

/**
 * The pipeline scaled out: three Kafka nodes (replication factor 3, `min.insync.replicas` 2),
 * three instances of every consumer in their groups, the fault suite's workload and exact
 * accounting, while every broker is restarted in turn under load (a rolling upgrade), then for a
 * minute app instances are killed with -9, stopped with SIGTERM (scale in) and added (scale out),
 * so groups rebalance many times while transactions are open, and one broker is killed with -9
 * and brought back meanwhile.
 * `npm run test:scale`; SCALE_SEED replays a run. Prints the event → webhook p99 before and
 * during the rolling restart and the repeated webhooks after each kind of fault.
 */
describe('the pipeline on three brokers with three instances of every consumer', () => {
  const ctx = useTestContext({ topics: true });
  const seed = runSeed('SCALE_SEED');
  const random = prng(seed);
  const infra = new LocalInfra(loadInfraConfig(process.env, repoRoot(), 'cluster'), repoRoot());
  const brokers = infra.servers.filter((s) => s.name.startsWith('kafka-')).map((s) => s.name);
  const instances = new Map<Consumer, AppProcess[]>(CONSUMERS.map((c) => [c, []]));
  const stopped: AppProcess[] = [];
  let api: AppProcess | undefined;
  let scenario: PipelineScenario;
  let driver: PipelineDriver;
  const faults: { at: number; kind: FaultKind; what: string }[] = [];
  const note = (kind: FaultKind, what: string) => {
    faults.push({ at: Date.now(), kind, what });
    process.stdout.write(`[scale seed=${seed}] ${new Date().toISOString().slice(11, 19)} ${kind}: ${what}\n`);
  };

  beforeAll(async () => {
    process.stdout.write(`[scale] seed ${seed} (replay with SCALE_SEED=${seed})\n`);
    driver = new PipelineDriver(ctx());
    scenario = new PipelineScenario(ctx(), seed, random);
    await scenario.startReceiver();
  });

  afterAll(async () => {
    const running = [...instances.values()].flat();
    await Promise.all([...running, ...(api ? [api] : [])].map((a) => a.stop(5000)));
    await scenario?.receiver?.close();
    await driver?.close();
  });

  const env = () => ({ ...ctx().env, WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_RETRY_DELAY_MS: '3000' });

  const startInstance = async (name: Consumer): Promise<AppProcess> => {
    const app = startApp(name, { ...env(), PORT: String(await freePort()) });
    instances.get(name)!.push(app);
    return app;
  };
  const removeInstance = (name: Consumer, app: AppProcess) => {
    const list = instances.get(name)!;
    list.splice(list.indexOf(app), 1);
    stopped.push(app);
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];

  /** Every partition of the run's topics and of the internal ones back to all its replicas. */
  const awaitFullIsr = () =>
    waitFor(
      async () => {
        const names = (await ctx().admin.listTopics()).filter((t) => t.startsWith(`${ctx().namespace}.`) || t.startsWith('__'));
        const meta = await ctx().admin.fetchTopicMetadata({ topics: names });
        return meta.topics.every((t) => t.partitions.every((p) => p.leader >= 0 && p.isr.length === p.replicas.length));
      },
      { timeoutMs: 120_000, intervalMs: 500, description: 'every partition in sync on all three brokers' },
    );

  /** One seeded change of the consumers: a kill -9 (replaced 1-3 s later), a scale-in to no fewer than one, or a scale-out to at most four. */
  const churn = async () => {
    const roll = random();
    if (roll < 0.4) {
      const name = pick(CONSUMERS);
      const app = pick(instances.get(name)!);
      app.child.kill('SIGKILL');
      await app.exited;
      removeInstance(name, app);
      const after = 1000 + Math.floor(random() * 2000);
      note('kill -9', `${name} pid ${app.child.pid}; a new instance in ${after} ms`);
      await sleep(after);
      await startInstance(name);
      return;
    }
    if (roll < 0.7) {
      const candidates = CONSUMERS.filter((c) => instances.get(c)!.length >= 2);
      if (candidates.length === 0) return;
      const name = pick(candidates);
      const app = pick(instances.get(name)!);
      removeInstance(name, app);
      const began = Date.now();
      // The pods' grace period is 45 s; the app's own shutdown gives up at 30 s and exits 1.
      const code = await app.stop(45_000);
      note('scale in', `${name} pid ${app.child.pid} stopped by SIGTERM in ${Date.now() - began} ms (exit ${code}), ${instances.get(name)!.length} left`);
      expect({ name, exit: code }).toEqual({ name, exit: 0 });
      return;
    }
    const candidates = CONSUMERS.filter((c) => instances.get(c)!.length <= 3);
    const name = pick(candidates);
    const app = await startInstance(name);
    note('scale out', `${name} pid ${app.child.pid}, ${instances.get(name)!.length} now`);
  };

  it('delivers every webhook and moves every lead once through rolling restarts, broker crashes and rebalances', async () => {
    const started = await startApi(ctx(), env());
    api = started.app;
    await scenario.createTriggers(started.client.withKey(await createTenantKey(ctx(), scenario.tenantId)));
    for (const name of CONSUMERS) for (let i = 0; i < 3; i++) await startInstance(name);
    // Every instance up and every group stable before the first event, so the latency before the faults is the steady one.
    await Promise.all([...instances.values()].flat().map((app) => waitForHealthy(app, 120_000)));
    for (const name of CONSUMERS) await waitForStableGroup(ctx(), `${ctx().namespace}-${name}`, 3);

    // About 10 events/s for about three minutes (the phases below take about that long on 2 cores).
    const t0 = Date.now();
    const producing = scenario.produce(driver, { batch: 10, pauseMs: 900 });

    // Steady until 220 events are out (about 20 s): the latency before any fault, over enough webhooks.
    await waitFor(() => scenario.producedAt.size >= 220, { timeoutMs: 120_000, description: '220 events produced before the faults' });
    const rollingFrom = Date.now();
    for (const broker of brokers) {
      note('broker restart', `${broker} stopped`);
      await infra.down([broker]);
      await infra.up([broker]);
      await awaitFullIsr();
      note('broker restart', `${broker} back and in sync`);
    }
    const rollingTo = Date.now();

    // Then, for a minute, app instances come and go while one broker is killed and brought back.
    const churnUntil = Date.now() + CHURN_MS;
    const churning = (async () => {
      while (Date.now() < churnUntil) {
        await sleep(3000 + random() * 4000);
        await churn();
      }
    })();
    await sleep(10_000 + random() * 5000);
    const victim = pick(brokers);
    await infra.kill(victim);
    note('broker kill -9', `${victim}`);
    await sleep(5000);
    await infra.up([victim]);
    await awaitFullIsr();
    note('broker kill -9', `${victim} back and in sync`);
    await Promise.all([producing, churning]);

    await scenario.awaitEverything();
    const counts = await scenario.expectExactAccounting();
    // No instance died on its own: every one the suite did not stop is still running.
    for (const [name, list] of instances) for (const app of list) expect({ name, exitCode: app.child.exitCode }).toEqual({ name, exitCode: null });

    // Repeats, each laid at the door of the last fault before it.
    const repeatsBy = new Map<FaultKind, number>();
    for (const r of scenario.repeats()) {
      const cause = [...faults].reverse().find((f) => f.at <= r.at);
      if (cause) repeatsBy.set(cause.kind, (repeatsBy.get(cause.kind) ?? 0) + 1);
    }
    const kinds = (kind: FaultKind) => faults.filter((f) => f.kind === kind).length;
    const before = scenario.latencies(t0, rollingFrom);
    const during = scenario.latencies(rollingFrom, rollingTo);
    const summary = {
      seed,
      events: scenario.events.length,
      ...counts,
      deadLetters: 0,
      rollingRestartSeconds: Math.round((rollingTo - rollingFrom) / 1000),
      p99BeforeMs: percentile(before, 99),
      p99DuringRollingRestartMs: percentile(during, 99),
      p50BeforeMs: percentile(before, 50),
      p50DuringRollingRestartMs: percentile(during, 50),
      kills: kinds('kill -9'),
      scaleIns: kinds('scale in'),
      scaleOuts: kinds('scale out'),
      repeatsAfter: Object.fromEntries(repeatsBy),
      repeatsPerScaleIn: kinds('scale in') > 0 ? (repeatsBy.get('scale in') ?? 0) / kinds('scale in') : 0,
      seconds: Math.round((Date.now() - t0) / 1000),
    };
    process.stdout.write(`[scale] ${JSON.stringify(summary)}\n`);
    expect(before.length).toBeGreaterThan(100);
    expect(during.length).toBeGreaterThan(100);
  }, 600_000);
});
