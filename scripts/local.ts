/**
 * `npm start`: the whole system on this machine. Starts Kafka, the schema registry and FerretDB
 * (unless KAFKA_BROKERS / SCHEMA_REGISTRY_URL / MONGODB_URI point elsewhere), creates the topics,
 * registers the schemas, starts the five apps and waits until each is healthy, then runs the demo
 * (scripts/demo.ts; `--no-demo` or DEMO=0 skips it). Ctrl-C stops the demo, the apps, then the
 * servers this run started.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newSecretsKey } from '@triggers/secrets';
import { appConfig, infraConnectionEnv, loadInfraConfig, DEFAULT_PORTS } from '@triggers/config';
import { AvroSerde, createKafka, createRegistry, ensureTopics } from '@triggers/kafka';
import { createLogger } from '@triggers/logging';
import { APP_NAMES, AppProcess, LocalInfra, repoRoot, startApp, waitForHealthy } from '@triggers/local-infra';
import { runDemo } from './demo';

const say = (line: string) => process.stdout.write(`${line}\n`);

/** The local system's secrets key: generated once into `<dataDir>/secrets.key` (git-ignored), then reused. */
function localSecretsKey(dataDir: string): string {
  const file = join(dataDir, 'secrets.key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${newSecretsKey()}\n`, { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

async function main(): Promise<void> {
  const started = Date.now();
  const root = repoRoot();
  const infra = new LocalInfra(loadInfraConfig(process.env, root, 'local'), root, (line) => say(`  ${line}`));

  // Servers the environment points elsewhere are not started here.
  const wanted = [
    ...(process.env.KAFKA_BROKERS ? [] : ['kafka']),
    ...(process.env.MONGODB_URI ? [] : ['ferretdb']),
    ...(process.env.SCHEMA_REGISTRY_URL ? [] : ['registry']),
  ];
  const env: Record<string, string> = {
    ...infraConnectionEnv(infra.config),
    // Seals webhook signing secrets at rest; kept under .infra/local so restarts open what was sealed.
    SECRETS_KEY: process.env.SECRETS_KEY ?? localSecretsKey(infra.config.dataDir),
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1/128',
    // A demo retry tier of seconds, so the retry path shows while you watch (the spec's is 10 min).
    WEBHOOK_RETRY_DELAY_MS: '5000',
    ...pick(process.env, [
      'KAFKA_BROKERS',
      'SCHEMA_REGISTRY_URL',
      'MONGODB_URI',
      'TOPIC_NAMESPACE',
      'WEBHOOK_ALLOWED_CIDRS',
      'WEBHOOK_RETRY_DELAY_MS',
      'LOG_LEVEL',
    ]),
  };

  say('▶ Servers (Kafka, schema registry, FerretDB): the registry takes up to half a minute');
  infra.install();
  const outcomes = await infra.up(wanted);
  const startedServers = Object.entries(outcomes)
    .filter(([, o]) => o === 'started')
    .map(([n]) => n);

  say('▶ Topics and schemas');
  const config = appConfig['triggers-api']({ ...process.env, ...env, LOG_LEVEL: 'warn' });
  const logger = createLogger({ app: 'start', level: 'warn' });
  const admin = createKafka(config.kafka, logger).admin();
  await admin.connect();
  const reports = await ensureTopics(
    admin,
    { topics: config.kafka.topics, partitions: config.kafka.partitions, replicationFactor: config.kafka.replicationFactor },
    new AvroSerde(createRegistry(config.registry), config.kafka.topics),
  );
  await admin.disconnect();
  say(
    `  ${reports.filter((r) => r.created).length} created, ${reports.filter((r) => !r.created).length} already there; ${reports.filter((r) => r.schemaId).length} schemas registered`,
  );

  say('▶ Apps');
  const logDir = join(infra.config.dataDir, 'logs');
  const apps: AppProcess[] = [];
  // Assigned once the demo runs; stopAll (below) may run before that and must see undefined, not a TDZ error.
  // eslint-disable-next-line prefer-const
  let demo: { stop: () => Promise<void> } | undefined;
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await demo?.stop();
    say('\n▶ Stopping apps');
    await Promise.all(apps.map((a) => a.stop()));
    if (startedServers.length > 0) {
      say('▶ Stopping servers started by this run');
      await infra.down();
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  for (const name of APP_NAMES) {
    const app = startApp(name, { ...env, PORT: String(DEFAULT_PORTS[name]) }, join(logDir, `${name}.log`));
    apps.push(app);
    void app.exited.then((code) => {
      if (!stopping) {
        say(`✗ ${name} exited with code ${code}; its log: ${join(logDir, `${name}.log`)}`);
        void stopAll(1);
      }
    });
  }
  for (const app of apps) {
    await waitForHealthy(app);
    say(`  ✓ ${app.name.padEnd(19)} http://127.0.0.1:${app.port}/healthz  log ${join(logDir, `${app.name}.log`)}`);
  }

  say(`\nTriggers is running (ready in ${((Date.now() - started) / 1000).toFixed(1)}s).`);
  say(`  Web page       http://127.0.0.1:${DEFAULT_PORTS['triggers-api']}/  (sign in with an API key)`);
  say(`  API            http://127.0.0.1:${DEFAULT_PORTS['triggers-api']}/v1`);
  say(`  Kafka          ${env.KAFKA_BROKERS}`);
  say(`  Registry       ${env.SCHEMA_REGISTRY_URL}`);
  say(`  MongoDB        ${env.MONGODB_URI}`);
  say(`  API docs       http://127.0.0.1:${DEFAULT_PORTS['triggers-api']}/docs`);
  say(`  Produce event  npm run -s produce -- --tenant demo --file ../shared/spec/payloads/agent-wrap-inbound.json`);

  if (process.argv.includes('--no-demo') || process.env.DEMO === '0') {
    say('Ctrl-C stops everything.');
    return;
  }
  say("\n▶ Demo: a tenant, its lists and leads, the spec's four triggers, a receiver for their webhooks");
  demo = await runDemo({
    config: { ...config, app: 'demo' },
    logger,
    apiUrl: `http://127.0.0.1:${DEFAULT_PORTS['triggers-api']}`,
    receiverPort: Number(process.env.DEMO_RECEIVER_PORT ?? 4000),
    say,
  });
  say(`\n  Open http://127.0.0.1:${DEFAULT_PORTS['triggers-api']}/ and sign in with the key above to see the triggers and their Event Logs.`);
  say('\n▶ What happens (from the log topic; the MPIQ webhook fails once and is retried 5 s later). Ctrl-C stops everything.\n');
}

function pick(env: NodeJS.ProcessEnv, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (env[k]) out[k] = env[k]!;
  return out;
}

main().catch((err: Error) => {
  process.stderr.write(`npm start failed: ${err.message}\n`);
  process.exit(1);
});
