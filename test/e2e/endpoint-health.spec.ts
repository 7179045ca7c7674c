import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { AccessStore } from '@triggers/access';
import { LogRecord, triggerKey, webhookBody } from '@triggers/contracts';
import { readTopicRange } from '@triggers/kafka';
import type { AppProcess } from '@triggers/local-infra';
import { readDecoded, testWebhookCommand, uniqueId, useHarness, useTestContext, waitFor } from '@triggers/testing';

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

/** The log partitions an instance's health processor owns, by its /healthz. */
async function healthPartitions(app: AppProcess, logTopic: string): Promise<number[]> {
  const res = await fetch(`http://127.0.0.1:${app.port}/healthz`);
  const health = (await res.json()) as { checks: Record<string, { detail?: { assigned?: Record<string, number[]> | null } }> };
  return health.checks.endpointHealth?.detail?.assigned?.[logTopic] ?? [];
}

const GAVE_UP_EVERY_MS = 3000;
const env = {
  WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
  WEBHOOK_RETRY_DELAY_MS: '1000',
  WEBHOOK_RETRY_WINDOW_MS: '600000',
  WEBHOOK_HEADERS_TIMEOUT_MS: '30000',
  HEALTH_GAVE_UP_EVERY_MS: String(GAVE_UP_EVERY_MS),
};

describe('endpoint health notifications', () => {
  const ctx = useTestContext({ topics: true });
  let endpointRequests = 0;
  const t = useHarness(ctx, {
    // The endpoint fails its first 5 requests; later ones succeed, answering after 8 s so the kill below comes before the recovery is seen.
    reply: (req) =>
      req.path === '/gone'
        ? { status: 410, body: 'gone' }
        : req.path !== '/endpoint'
          ? { status: 200 }
          : ++endpointRequests <= 5
            ? { status: 503, body: 'down' }
            : { status: 200, delayMs: 8000 },
  });

  it('an endpoint that fails 5 times, then recovers, makes exactly one failing and one recovered notification, signed, across 3 dispatchers and a kill -9 of the one keeping its health', async () => {
    const { topics } = ctx().config.kafka;
    const secret = newSecret();
    const endpoint = `${t.receiver.url}/endpoint`;
    const { tenantId, triggerId } = await t.driver.webhookTrigger(endpoint, [{ id: 's1', secret, notAfter: null }]);
    const access = new AccessStore((await ctx().mongo()).db);
    await access.createTenant(tenantId);
    await access.setNotificationsUrl(tenantId, `${t.receiver.url}/notify`);
    const apps = await Promise.all([1, 2, 3].map(() => t.start('webhook-dispatcher', env)));
    const command = testWebhookCommand({ tenantId, triggerId, eventId: uniqueId('evt'), url: endpoint, body: webhookBody('agent.wrap', { callId: 'c1' }) });
    await t.driver.webhookCommands([command]);

    const notices = () => t.receiver.received.filter((r) => r.path === '/notify');
    const typeOf = (r: { body: string }) => (JSON.parse(r.body) as { type: string }).type;
    await t.receiver.waitFor(1, { where: (r) => r.path === '/notify', timeoutMs: 60_000 });
    expect(notices().map(typeOf)).toEqual(['trigger.endpoint.failing']);

    // The instance whose health processor committed "failing" (it owns the log partition of the trigger) is killed.
    let partition: number | undefined;
    await readTopicRange(ctx().kafka, topics.endpointHealth, {}, (m, p) => {
      if (m.key?.toString() === triggerKey(tenantId, triggerId)) partition = p;
    });
    expect(partition).toBeDefined();
    let owner: AppProcess | undefined;
    await waitFor(
      async () => {
        for (const app of apps) if ((await healthPartitions(app, topics.log)).includes(partition!)) owner = app;
        return owner !== undefined;
      },
      { timeoutMs: 20_000, description: `the owner of log partition ${partition}` },
    );
    owner!.child.kill('SIGKILL');
    await owner!.exited;
    expect(notices().map(typeOf)).toEqual(['trigger.endpoint.failing']);

    await waitFor(() => notices().some((r) => typeOf(r) === 'trigger.endpoint.recovered'), { timeoutMs: 90_000, description: 'the recovered notification' });
    // Each transition's notification was delivered (logged) once; wait for those records, then count.
    const delivered = await readDecoded<LogRecord>(ctx(), topics.log, {
      expected: 2,
      where: (r) => r.tenantId === tenantId && r.origin === 'notification' && r.step === 'webhook.delivered',
      quietMs: 3000,
    });
    expect(delivered.map((r) => r.value.eventType).sort()).toEqual(['trigger.endpoint.failing', 'trigger.endpoint.recovered']);

    // Exactly one notification per transition: a repeated POST (a delivery cut by the kill) keeps its webhook-id.
    const byId = new Map(notices().map((r) => [r.headers['webhook-id'], r]));
    expect([...byId.values()].map(typeOf).sort()).toEqual(['trigger.endpoint.failing', 'trigger.endpoint.recovered']);
    for (const r of notices()) {
      const body = new Webhook(secret).verify(r.body, r.headers) as { type: string; payload: Record<string, unknown> };
      expect(body.payload).toMatchObject({ tenantId, triggerId, url: endpoint });
    }
    const [failing, recovered] = ['trigger.endpoint.failing', 'trigger.endpoint.recovered'].map(
      (type) => JSON.parse([...byId.values()].find((r) => typeOf(r) === type)!.body) as { payload: Record<string, unknown> },
    );
    expect(failing.payload).toMatchObject({ state: 'failing', consecutiveFailures: 5, lastError: 'HTTP 503' });
    expect(recovered.payload).toMatchObject({ state: 'healthy', failingSince: failing.payload.since });

    // The transitions are in the trigger's log once each.
    const transitions = await readDecoded<LogRecord>(ctx(), topics.log, {
      expected: 2,
      where: (r) => r.tenantId === tenantId && r.step.startsWith('endpoint.'),
      quietMs: 1000,
    });
    expect(transitions.map((r) => r.value.step)).toEqual(['endpoint.failing', 'endpoint.recovered']);

    // The survivors' metrics count the trigger healthy again: one of them took over its partition.
    const gauge = async (app: AppProcess, state: string) => {
      const text = await (await fetch(`http://127.0.0.1:${app.port}/metrics`)).text();
      return Number(new RegExp(`^triggers_endpoint_health_triggers\\{[^}]*state="${state}"[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    };
    const survivors = apps.filter((a) => a !== owner);
    const sum = async (state: string) => (await Promise.all(survivors.map((a) => gauge(a, state)))).reduce((x, y) => x + y, 0);
    // (A rebalance may still be moving partitions: each owner reads its partitions' health as it gets them.)
    await waitFor(async () => (await sum('healthy')) === 1 && (await sum('failing')) === 0, {
      timeoutMs: 30_000,
      description: 'the trigger counted healthy by the survivors',
    });
  });

  it('tells given-up webhooks at once, then at most once per HEALTH_GAVE_UP_EVERY_MS, with the count held back', async () => {
    const endpoint = `${t.receiver.url}/gone`;
    const secret = newSecret();
    const { tenantId, triggerId } = await t.driver.webhookTrigger(endpoint, [{ id: 's1', secret, notAfter: null }]);
    const access = new AccessStore((await ctx().mongo()).db);
    await access.createTenant(tenantId);
    await access.setNotificationsUrl(tenantId, `${t.receiver.url}/notify?tenant=${tenantId}`);
    await t.start('webhook-dispatcher', env);
    const mine = (r: { path: string }) => r.path === `/notify?tenant=${tenantId}`;
    const command = () =>
      testWebhookCommand({ tenantId, triggerId, eventId: uniqueId('evt'), url: endpoint, body: webhookBody('agent.wrap', { callId: 'c1' }) });
    // Three commands given up at once (410 Gone): the first is told at once, the other two are held.
    await t.driver.webhookCommands([command(), command(), command()]);
    const [first] = await t.receiver.waitFor(1, { where: mine, timeoutMs: 60_000 });
    const firstBody = new Webhook(secret).verify(first.body, first.headers) as { type: string; payload: { count: number } };
    expect(firstBody).toMatchObject({ type: 'trigger.webhook.gave_up', payload: { tenantId, triggerId, count: 1, url: endpoint } });
    const told = await readDecoded<LogRecord>(ctx(), ctx().config.kafka.topics.log, {
      expected: 3,
      where: (r) => r.tenantId === tenantId && r.step === 'webhook.gave_up' && r.origin === 'event',
    });
    expect(told).toHaveLength(3);
    expect(t.receiver.received.filter(mine)).toHaveLength(1);
    // The next record of the trigger after the interval carries the held count forward, with its own.
    const lastGaveUp = Math.max(...told.map((r) => r.value.time));
    await waitFor(() => Date.now() >= lastGaveUp + GAVE_UP_EVERY_MS, { timeoutMs: GAVE_UP_EVERY_MS + 1000, description: 'the gave-up interval' });
    await t.driver.webhookCommands([command()]);
    await t.receiver.waitFor(2, { where: mine, timeoutMs: 60_000 });
    const bodies = t.receiver.received.filter(mine).map((r) => new Webhook(secret).verify(r.body, r.headers) as { type: string; payload: { count: number } });
    expect(bodies.map((b) => [b.type, b.payload.count])).toEqual([
      ['trigger.webhook.gave_up', 1],
      ['trigger.webhook.gave_up', 3],
    ]);
  });
});
