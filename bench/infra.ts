import { infraConnectionEnv, loadInfraConfig } from '@triggers/config';
import { LocalInfra, repoRoot } from '@triggers/local-infra';
import { createTestContext, TestContext } from '@triggers/testing';

/**
 * Benchmarks run against the test profile's servers (started here when not running) in a
 * fresh topic namespace, so they never touch `npm start`'s data.
 */
export async function benchContext(): Promise<{ ctx: TestContext; serverPids: Record<string, number | undefined>; stopInfra: () => Promise<void> }> {
  const root = repoRoot();
  const infra = new LocalInfra(loadInfraConfig(process.env, root, 'test'), root, (l) => process.stderr.write(`[infra] ${l}\n`));
  infra.install();
  const outcomes = await infra.up();
  Object.assign(process.env, infraConnectionEnv(infra.config), { LOG_LEVEL: 'silent' });
  const ctx = await createTestContext('bench');
  await ctx.createTopics();
  const started = Object.values(outcomes).includes('started');
  // The servers' pids, to meter the CPU they spend on a benchmark's work (unknown when external).
  const serverPids = Object.fromEntries((await infra.status()).map((s) => [s.name, s.pid]));
  return {
    ctx,
    serverPids,
    stopInfra: async () => {
      await ctx.close();
      if (started) await infra.down();
    },
  };
}
