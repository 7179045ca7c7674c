import { loadInfraConfig } from '@triggers/config';
import {
  AppProcess,
  LocalInfra,
  PipelineDriver,
  TcpProxy,
  createTcpProxy,
  freePort,
  createTenantKey,
  startApi,
  repoRoot,
  startApp,
  useTestContext,
} from '@triggers/testing';
import { CONSUMERS, Consumer, PipelineScenario, prng, runSeed, sleep } from '../../system/pipeline-scenario';

/**
 * The whole pipeline under faults, with exact accounting: the five apps as processes, events of
 * two types with webhook and lead triggers, a receiver failing some first attempts, `kill -9` of
 * each consumer at seeded moments with restarts, a broker restart, a FerretDB outage of 20 s and
 * a registry outage of 20 s with cold restarts of the matcher and dispatcher during it. Runs on
 * its own servers (the `faults` profile): `npm run test:faults`, FAULT_SEED to replay a run.
 */
describe('the pipeline under faults', () => {
  const ctx = useTestContext({ topics: true });
  const seed = runSeed('FAULT_SEED');
  const random = prng(seed);
  const infra = new LocalInfra(loadInfraConfig(process.env, repoRoot(), 'faults'), repoRoot());
  const apps = new Map<string, AppProcess>();
  const ports = new Map<string, number>();
  let registry: TcpProxy;
  let mongo: TcpProxy;
  let scenario: PipelineScenario;
  let driver: PipelineDriver;
  const faults: string[] = [];
  const note = (what: string) => {
    faults.push(`${new Date().toISOString().slice(11, 19)} ${what}`);
    process.stdout.write(`[faults seed=${seed}] ${what}\n`);
  };

  beforeAll(async () => {
    process.stdout.write(`[faults] seed ${seed} (replay with FAULT_SEED=${seed})\n`);
    driver = new PipelineDriver(ctx());
    const realRegistry = new URL(ctx().env.SCHEMA_REGISTRY_URL);
    registry = await createTcpProxy({ host: realRegistry.hostname, port: Number(realRegistry.port) }, { running: true });
    const realMongo = new URL(ctx().env.MONGODB_URI.replace('mongodb://', 'http://'));
    mongo = await createTcpProxy({ host: realMongo.hostname, port: Number(realMongo.port) }, { running: true });
    scenario = new PipelineScenario(ctx(), seed, random);
    await scenario.startReceiver();
  });

  afterAll(async () => {
    await Promise.all([...apps.values()].map((a) => a.stop(5000)));
    await registry?.stop();
    await mongo?.stop();
    await scenario?.receiver?.close();
    await driver?.close();
    process.stdout.write(`[faults] seed ${seed}: ${faults.length} faults\n  ${faults.join('\n  ')}\n`);
  });

  const env = () => ({
    ...ctx().env,
    SCHEMA_REGISTRY_URL: `http://127.0.0.1:${registry.port}${new URL(ctx().env.SCHEMA_REGISTRY_URL).pathname}`,
    MONGODB_URI: `mongodb://127.0.0.1:${mongo.port}/${ctx().namespace}`,
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
    WEBHOOK_RETRY_DELAY_MS: '3000',
  });

  const start = async (name: string) => {
    if (!ports.has(name)) ports.set(name, await freePort());
    apps.set(name, startApp(name, { ...env(), PORT: String(ports.get(name)) }));
  };

  /** One kill (and its restart) at a time, so two never race on the same app. */
  let killing: Promise<void> = Promise.resolve();
  const kill = (name: Consumer, restartAfterMs: number): Promise<void> =>
    (killing = killing.then(async () => {
      const app = apps.get(name)!;
      app.child.kill('SIGKILL');
      await app.exited;
      note(`kill -9 ${name}; restart in ${restartAfterMs} ms`);
      await sleep(restartAfterMs);
      await start(name);
    }));

  it('delivers every webhook and moves every lead once, with one record per fact and no dead letter', async () => {
    const api = await startApi(ctx(), env());
    apps.set('triggers-api', api.app);
    await scenario.createTriggers(api.client.withKey(await createTenantKey(ctx(), scenario.tenantId)));
    for (const name of CONSUMERS) await start(name);

    // Events flow for about 60 s while the faults happen.
    const producing = scenario.produce(driver);

    const started = Date.now();
    const at = (s: number) => sleep(Math.max(0, started + s * 1000 - Date.now()));
    const killer = (async () => {
      // A kill -9 of a random consumer every 6-10 s, restarted 1-3 s later.
      while (Date.now() - started < 75_000) {
        await sleep(6000 + random() * 4000);
        await kill(CONSUMERS[Math.floor(random() * CONSUMERS.length)], 1000 + Math.floor(random() * 2000));
      }
    })();
    await at(12 + random() * 5);
    note('broker restart');
    await infra.down(['kafka']);
    await infra.up(['kafka']);
    note('broker back');
    await at(28 + random() * 5);
    note('FerretDB outage (20 s)');
    await mongo.stop();
    await sleep(20_000);
    await mongo.start();
    note('FerretDB back');
    await at(52 + random() * 5);
    note('registry outage (20 s), cold restarts of the matcher and dispatcher during it');
    await registry.stop();
    await sleep(4000);
    await kill('matcher', 500);
    await kill('webhook-dispatcher', 500);
    await sleep(14_000);
    await registry.start();
    note('registry back');
    await Promise.all([producing, killer]);

    await scenario.awaitEverything();
    const counts = await scenario.expectExactAccounting();
    const summary = {
      seed,
      events: scenario.events.length,
      faults: faults.length,
      kills: faults.filter((f) => f.includes('kill -9')).length,
      ...counts,
      deadLetters: 0,
      seconds: Math.round((Date.now() - started) / 1000),
    };
    process.stdout.write(`[faults] ${JSON.stringify(summary)}\n`);
  }, 540_000);
});
