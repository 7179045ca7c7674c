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

/**
 * Creates `count` disabled agent.wrap webhook triggers through the API, one per campaign from
 * `firstCampaign` (named "Wraps of campaign <n>"), each posting to `<url>/<i>`; throws on any
 * answer but 201. A tenant of a given size, for the page's tests and bench.
 */
export async function createWebhookTriggers(
  api: ApiClient,
  count: number,
  opts: { firstCampaign: number; url: string },
): Promise<{ id: string; name: string }[]> {
  const triggers: { id: string; name: string }[] = [];
  for (let i = 0; i < count; i++) {
    const campaign = String(opts.firstCampaign + i);
    const name = `Wraps of campaign ${campaign}`;
    const created = await api.request('POST', '/v1/triggers', {
      name,
      eventType: 'agent.wrap',
      enabled: false,
      parameters: JSON.stringify({
        conditions: [{ reference: 'campaignId', operator: '=', value: campaign }],
        actions: [{ action: 'webhook', parameters: { url: `${opts.url}/${i}` } }],
      }),
    });
    if (created.status !== 201) throw new Error(`could not create trigger ${i}: ${created.status} ${JSON.stringify(created.body)}`);
    triggers.push({ id: created.body.id, name });
  }
  return triggers;
}
