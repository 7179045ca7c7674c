import { infraConnectionEnv, loadInfraConfig } from '@triggers/config';
import { LocalInfra, createTestContext, repoRoot, TestContext } from '@triggers/testing';

/**
 * Benchmarks run against the test profile's servers (started here when not running) in a
 * fresh topic namespace, so they never touch `npm start`'s data.
 */
export async function benchContext(): Promise<{ ctx: TestContext; stopInfra: () => Promise<void> }> {
  const root = repoRoot();
  const infra = new LocalInfra(loadInfraConfig(process.env, root, 'test'), root, (l) => process.stderr.write(`[infra] ${l}\n`));
  infra.install();
  const outcomes = await infra.up();
  Object.assign(process.env, infraConnectionEnv(infra.config), { LOG_LEVEL: 'silent' });
  const ctx = await createTestContext('bench');
  await ctx.createTopics();
  const started = Object.values(outcomes).includes('started');
  return {
    ctx,
    stopInfra: async () => {
      await ctx.close();
      if (started) await infra.down();
    },
  };
}
