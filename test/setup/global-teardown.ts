import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Stops the servers when this run started them, unless TRIGGERS_KEEP_INFRA=1 (handy when
 * iterating: the next run then starts in seconds). Servers that were already up are left alone.
 */
export default async function globalTeardown(): Promise<void> {
  if (process.env.TRIGGERS_KEEP_INFRA === '1' || !process.env.TRIGGERS_TEST_STARTED) return;
  const root = join(__dirname, '../..');
  execFileSync(join(root, 'node_modules/.bin/tsx'), [join(root, 'scripts/infra.ts'), 'down'], {
    cwd: root,
    env: { ...process.env, INFRA_PROFILE: process.env.TRIGGERS_TEST_PROFILE ?? 'test' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}
