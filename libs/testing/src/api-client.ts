import { AccessStore, Permission } from '@triggers/access';
import { ApiClient, AppProcess, freePort, startApp, waitForHealthy } from '@triggers/local-infra';
import type { TestContext } from './test-context';

/** Starts triggers-api for a test context on a free port and waits until it is healthy. */
export async function startApi(ctx: TestContext, env: Record<string, string> = {}, { healthy = true } = {}): Promise<{ app: AppProcess; client: ApiClient }> {
  const port = await freePort();
  const app = startApp('triggers-api', { ...ctx.env, PORT: String(port), ...env });
  if (healthy) await waitForHealthy(app);
  else await waitForListening(port);
  return { app, client: new ApiClient(`http://127.0.0.1:${port}`) };
}

async function waitForListening(port: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`nothing listens on port ${port}`);
}

/** Creates a tenant and a key with the given permissions in the context's database. */
export async function createTenantKey(ctx: TestContext, tenantId: string, permissions: Permission[] = ['triggers:read', 'triggers:write']): Promise<string> {
  const { db } = await ctx.mongo();
  const store = new AccessStore(db);
  if (!(await store.getTenant(tenantId))) await store.createTenant(tenantId);
  return (await store.createKey(tenantId, permissions)).key;
}
