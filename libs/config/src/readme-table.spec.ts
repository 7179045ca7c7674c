import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { VARIABLES_READ } from './env';
import { appConfig } from './apps';
import { loadInfraConfig } from './infra-config';
import { loadTopicsConfig } from './app-config';

/**
 * The README's configuration tables are the one place variables are documented. Every variable
 * an app, the topic provisioning or the local servers read (the zod shapes themselves, as they
 * parse) must have its row, and every row must name a variable something reads.
 */
describe('the README configuration tables', () => {
  const root = join(__dirname, '..', '..', '..');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
  /** The names in the first column of every table row (`A`, `B` rows name several). */
  const documented = new Set(
    section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...line.split('|')[1].matchAll(/`([A-Z0-9_<>]+)`/g)].map((m) => m[1])),
  );
  /** Documented for the container image, KEDA, npm start and the tests: read outside the shapes. */
  const readElsewhere = new Set([
    'APP',
    'KEDA_KAFKA_SASL',
    'KEDA_KAFKA_TLS',
    'DEMO',
    'DEMO_RECEIVER_PORT',
    'CHROMIUM_PATH',
    'REGISTRY_JAVA',
    'TRIGGERS_KEEP_INFRA',
    'TOPIC_<KEY>',
    // Read by the OpenTelemetry SDK (and libs/tracing), by the specification's names.
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    'OTEL_TRACES_SAMPLER',
    'OTEL_TRACES_SAMPLER_ARG',
    'OTEL_SERVICE_NAME',
    'OTEL_SDK_DISABLED',
  ]);

  beforeAll(() => {
    const env = { SECRETS_KEY: `k1:${randomBytes(32).toString('base64')}` };
    for (const load of Object.values(appConfig)) load(env);
    loadTopicsConfig(env, 1);
    loadInfraConfig(env, root);
  });

  it('documents every variable the shapes read', () => {
    expect(VARIABLES_READ.size).toBeGreaterThan(40);
    const missing = [...VARIABLES_READ].filter(
      (v) => !documented.has(v) && !/^TOPIC_(EVENTS_|TRIGGER_CONFIG|WEBHOOK_COMMANDS|WEBHOOK_RETRY|LEAD_COMMANDS|LOG$|DEAD_LETTER)/.test(v),
    );
    expect(missing).toEqual([]);
  });

  it('documents no variable nothing reads', () => {
    const stale = [...documented].filter((v) => !VARIABLES_READ.has(v) && !readElsewhere.has(v));
    expect(stale).toEqual([]);
  });
});
