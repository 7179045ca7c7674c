import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Starts the test profile's servers once per run (reusing them when already up) through the same
 * command developers use (`infra.ts up`), and hands their addresses to the test workers through
 * the environment. Tests isolate themselves with fresh topic namespaces, groups and databases.
 */
export default function globalSetup(): Promise<void> {
  // `compat`: the Kafka compatibility step runs the integration tests on servers of its own (3.9.1).
  return setUpInfra(process.env.TRIGGERS_INFRA_PROFILE === 'compat' ? 'compat' : 'test');
}

/** Starts (or reuses) the servers of one infra profile and hands their addresses to the workers. */
export async function setUpInfra(profile: 'test' | 'faults' | 'compat' | 'cluster', extraEnv: Record<string, string> = {}): Promise<void> {
  const root = join(__dirname, '../..');
  const out = execFileSync(join(root, 'node_modules/.bin/tsx'), [join(root, 'scripts/infra.ts'), 'up', '--json'], {
    cwd: root,
    env: { ...process.env, INFRA_PROFILE: profile },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const { outcomes, env } = JSON.parse(out.trim().split('\n').pop()!) as {
    outcomes: Record<string, string>;
    env: Record<string, string>;
  };
  // The fault suite stops and starts its servers: one this checkout did not start (another
  // checkout's, on the same ports) would be restarted by nobody, and its faults would not happen.
  const external = Object.entries(outcomes).filter(([, outcome]) => outcome === 'external');
  if ((profile === 'faults' || profile === 'cluster') && external.length > 0) {
    throw new Error(
      `the ${profile} suite restarts its own servers, but ${external.map(([name]) => name).join(', ')} on the ${profile} ports ` +
        `was started by another checkout or program: stop it (INFRA_PROFILE=${profile} npm run infra:down from that checkout) or choose other INFRA_*_PORT values`,
    );
  }
  // Only a run that started servers stops them at the end; reused ones keep running.
  process.env.TRIGGERS_TEST_STARTED = Object.values(outcomes).includes('started') ? '1' : '';
  process.env.TRIGGERS_TEST_PROFILE = profile;
  Object.assign(process.env, env, extraEnv, { LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' });
  await warmUpRegistry(env.SCHEMA_REGISTRY_URL);
}

/**
 * A registry just started answers health checks before its first registration is quick (one took
 * over the client's 10 s timeout on a busy machine and failed the first test file's encode). One
 * registration is awaited here, as long as it takes up to two minutes, before any test runs.
 */
async function warmUpRegistry(url: string | undefined): Promise<void> {
  if (!url) return;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/subjects/triggers-test-warm-up-value/versions`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ schema: JSON.stringify({ type: 'record', name: 'WarmUp', fields: [{ name: 'at', type: 'long' }] }) }),
        signal: AbortSignal.timeout(60_000),
      });
      if (res.ok) return;
      if (Date.now() > deadline) throw new Error(`the schema registry at ${url} refused a registration: HTTP ${res.status} ${await res.text()}`);
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
