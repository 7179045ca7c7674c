import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, Page, chromium } from 'playwright-core';
import {
  ApiClient,
  AppProcess,
  PipelineDriver,
  WebhookReceiver,
  createTenantKey,
  createWebhookTriggers,
  eventLogHistory,
  growEventLogHistory,
  repoRoot,
  specPayload,
  startApi,
  startHealthyApp,
  startWebhookReceiver,
  uniqueId,
  useTestContext,
  waitFor,
  waitForTriggers,
} from '@triggers/testing';
import { EVENT_LOGS_COLLECTION, HOUR } from '@triggers/mongo';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it when missing). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(repoRoot(), 'test/artifacts/screenshots');

/**
 * The Integration › Triggers page in a real browser, against the whole pipeline: a tenant admin
 * signs in, meets the spec's error on bad JSON, saves the trigger, and finds the delivery of a
 * matching event in Event Logs, then redelivers it.
 */
describe('the Triggers web page', () => {
  const ctx = useTestContext({ topics: true });
  const running: AppProcess[] = [];
  let browser: Browser;
  let page: Page;
  let receiver: WebhookReceiver;
  let driver: PipelineDriver;
  let apiUrl: string;
  let key: string;
  const tenantId = uniqueId('tenant');
  let down = true;
  let matcher: AppProcess;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // /hooks/down answers 503 until the test brings it back.
    receiver = await startWebhookReceiver((req) => (down && req.path.startsWith('/hooks/down') ? { status: 503, body: 'down' } : { status: 200, body: 'ok' }));
    driver = new PipelineDriver(ctx());
    const loopback = { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' };
    const { app, client } = await startApi(ctx(), loopback);
    running.push(app);
    apiUrl = client.baseUrl;
    // A compressed retry window: webhooks to /hooks/down are given up within a second, after one or two
    // attempts each; two failures in a row make an endpoint failing.
    running.push(
      ...(await Promise.all([
        startHealthyApp(ctx().env, 'matcher').then((m) => (matcher = m)),
        startHealthyApp(ctx().env, 'webhook-dispatcher', {
          ...loopback,
          WEBHOOK_RETRY_DELAY_MS: '300',
          WEBHOOK_RETRY_WINDOW_MS: '1000',
          HEALTH_FAILING_AFTER: '2',
        }),
        startHealthyApp(ctx().env, 'log-sink'),
      ])),
    );
    key = await createTenantKey(ctx(), tenantId);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(running.map((a) => a.stop()));
    await receiver?.close();
    await driver?.close();
  });

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  it("creates a trigger (refusing bad JSON with the spec's message), shows its delivery in Event Logs, and redelivers it", async () => {
    await page.goto(`${apiUrl}/`);
    await shot('01-sign-in');
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('No triggers yet.').waitFor();

    await page.getByRole('button', { name: 'New trigger' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Send Webhook on Agent Wrap');
    await page.getByLabel('Event type', { exact: true }).selectOption('agent.wrap');
    await page
      .getByLabel('Parameters (JSON: conditions and actions)')
      .fill('{"conditions": [ {"reference": "campaignId", "operator": "in", "value": "215,223"} ');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').getByText('Invalid JSON format').waitFor();
    // The form points at the line the parser stopped on.
    await page
      .locator('#parameters-error')
      .getByText(/^line 1: \{"conditions"/)
      .waitFor();
    expect(await page.locator('#parameters-error').textContent()).toMatch(/\^ /);
    await shot('02-invalid-json');

    const parameters = {
      conditions: [{ reference: 'campaignId', operator: 'in', value: '215,223' }],
      actions: [{ action: 'webhook', parameters: { url: `${receiver.url}/hooks/wrap` } }],
    };
    await page.getByLabel('Parameters (JSON: conditions and actions)').fill(JSON.stringify(parameters, null, 2));
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').getByText('Trigger has been updated').waitFor();
    await page.getByText(/Signing secret \(shown once/).waitFor();
    await page.getByRole('row', { name: /Send Webhook on Agent Wrap agent\.wrap/ }).waitFor();
    await shot('03-saved');

    // Try it: the spec's agent.wrap sample is for campaign 20161, so the condition fails.
    await page.getByRole('tab', { name: 'Try it' }).click();
    await page.getByRole('button', { name: 'Evaluate conditions' }).click();
    await page.getByText('Does not match.').waitFor();
    await page.getByText(/✗ campaignId in 215,223/).waitFor();
    await shot('04-try-it');

    // A matching event from a platform service goes through the real pipeline.
    const { event } = specPayload('agent-wrap-inbound.json');
    await driver.event(tenantId, { type: event.type, payload: { ...event.payload, campaignId: '215' } });
    const [delivered] = await receiver.waitFor(1, { timeoutMs: 30_000 });

    await page.getByRole('tab', { name: 'Event Logs' }).click();
    const deliveredRow = page.getByRole('row', { name: /webhook\.delivered ok 1 200/ });
    await waitFor(
      async () => {
        await page.getByRole('button', { name: 'Refresh' }).click();
        return (await deliveredRow.count()) > 0;
      },
      { timeoutMs: 30_000, intervalMs: 500, description: 'the delivery in Event Logs' },
    );
    await page.getByRole('row', { name: /matched info/ }).waitFor();
    await shot('05-event-logs');

    await deliveredRow.getByRole('button').click();
    await page.locator('#log-request').getByText(`POST ${receiver.url}/hooks/wrap`).waitFor();
    await page.locator('#log-response').getByText('HTTP 200').waitFor();
    await shot('06-event-log-detail');
    await page.getByRole('button', { name: 'Redeliver' }).click();
    await page.getByText(/Redelivery queued/).waitFor();
    const [, again] = await receiver.waitFor(2, { timeoutMs: 30_000 });
    expect(again.headers['webhook-id']).toBe(delivered.headers['webhook-id']);
    expect(again.body).toBe(delivered.body);

    // Filters: only failed rows, of which there are none.
    await page.getByLabel('Status', { exact: true }).selectOption('failed');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByText('No event logs yet.').waitFor();
  }, 120_000);

  it('shows delivery health with a chart, and redelivers the failed webhooks in bulk', async () => {
    const client = new ApiClient(apiUrl, key);
    const parameters = {
      conditions: [{ reference: 'campaignId', operator: '=', value: '999' }],
      actions: [{ action: 'webhook', parameters: { url: `${receiver.url}/hooks/down` } }],
    };
    // Saved through the API as one line of JSON.
    const created = await client.request('POST', '/v1/triggers', {
      name: 'Wraps of campaign 999 to the CRM',
      eventType: 'agent.wrap',
      enabled: true,
      parameters: JSON.stringify(parameters),
    });
    expect(created.status).toBe(201);
    await waitForTriggers(matcher, 2);
    const { event } = specPayload('agent-wrap-inbound.json');
    await driver.events(
      tenantId,
      [0, 1].map(() => ({ type: event.type, payload: { ...event.payload, campaignId: '999' } })),
    );
    const { db } = await ctx().mongo();
    const gaveUp = () => db.collection(EVENT_LOGS_COLLECTION).countDocuments({ tenantId, triggerId: created.body.id, step: 'webhook.gave_up' });
    await waitFor(async () => (await gaveUp()) === 2, { timeoutMs: 60_000, description: 'two webhooks given up' });
    down = false;
    const fixedAt = Date.now();

    // The list shows each trigger's 24-hour success ratio: none of this one's attempts succeeded.
    // (Health answers are kept a few seconds: reload until the failures count.)
    const row = page.getByRole('row', { name: /Wraps of campaign 999 to the CRM agent\.wrap/ });
    /** Reloads the page until the trigger's row shows `text`. */
    const reloadUntilRowShows = (text: string, description: string) =>
      waitFor(
        async () => {
          await page.reload();
          await row.waitFor();
          return (await row.getByText(text).count()) > 0;
        },
        { timeoutMs: 30_000, intervalMs: 1000, description },
      );
    await reloadUntilRowShows('0 %', 'the 24-hour success ratio in the list');
    // Its last delivery is the last give-up, from the list's own answer.
    await row.getByText(/^webhook\.gave_up 503 /).waitFor();
    // Every attempt failed: the dispatchers' health processor marked the endpoint failing, which the list shows.
    await reloadUntilRowShows('endpoint failing', 'the endpoint marked failing in the list');
    await row.getByRole('button', { name: 'Wraps of campaign 999 to the CRM' }).click();
    // The trigger opens with a banner saying since when, and why.
    const banner = page.getByRole('alert').filter({ hasText: "This trigger's webhook endpoint is failing since" });
    await banner.waitFor();
    expect(await banner.textContent()).toContain('HTTP 503');
    await shot('06b-endpoint-failing');
    // The form shows it pretty-printed.
    await waitFor(async () => (await page.getByLabel('Parameters (JSON: conditions and actions)').inputValue()) === JSON.stringify(parameters, null, 2), {
      description: 'the parameters pretty-printed',
    });
    await page.getByRole('tab', { name: 'Delivery health' }).click();
    const counts = page.locator('#health-counts');
    await counts.getByText('Given up').waitFor();
    expect(await counts.locator('div', { hasText: 'Given up' }).locator('dd').textContent()).toBe('2');
    expect(await counts.locator('div', { hasText: 'Delivered' }).locator('dd').textContent()).toBe('0');
    const chart = page.getByRole('img', { name: /Attempts per hour/ });
    await chart.waitFor();
    expect(await chart.locator('rect.bar-failed').count()).toBeGreaterThan(0);
    expect(await chart.locator('rect.bar-ok').count()).toBe(0);
    await shot('07-delivery-health');

    await page.getByLabel('Which').selectOption('gave_up');
    await page.getByRole('button', { name: 'Redeliver failed' }).click();
    await page.getByText('Redelivery done: redelivered 2, skipped 0').waitFor({ timeout: 30_000 });
    await shot('08-bulk-redelivery');
    const ok = await receiver.waitFor(2, { timeoutMs: 30_000, where: (r) => r.path === '/hooks/down' && r.at >= fixedAt });
    expect(new Set(ok.map((r) => r.headers['webhook-id'])).size).toBe(2);

    // Stats are kept a few seconds: refresh until the deliveries show, in the counts and the chart.
    await waitFor(
      async () => {
        await page.getByRole('button', { name: 'Refresh health' }).click();
        return (await counts.locator('div', { hasText: 'Delivered' }).locator('dd').textContent()) === '2';
      },
      { timeoutMs: 30_000, intervalMs: 1000, description: 'two deliveries in the health counts' },
    );
    expect(await chart.locator('rect.bar-ok').count()).toBeGreaterThan(0);
    // Delivered again: the endpoint recovered, and the banner is gone when the trigger is opened again.
    await waitFor(
      async () => {
        await row.getByRole('button', { name: 'Wraps of campaign 999 to the CRM' }).click();
        await page.getByRole('tab', { name: 'Settings' }).waitFor();
        return !(await banner.isVisible());
      },
      { timeoutMs: 30_000, intervalMs: 1000, description: 'the failing banner gone once the endpoint recovered' },
    );
    await page.getByRole('tab', { name: 'Delivery health' }).click();
    await page.getByLabel('Window', { exact: true }).selectOption('7d');
    await page.getByRole('img', { name: /Attempts per 6 hours/ }).waitFor();
    await shot('09-delivery-health-after');
  }, 120_000);

  it('says a view is loading, and shows a failed load with its error and a Retry that loads it', async () => {
    // The list's first request is held until the page says it loads, then fails.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let listCalls = 0;
    await page.route(/\/v1\/triggers\?limit=50$/, async (route) => {
      listCalls += 1;
      if (listCalls > 1) return route.continue();
      await held;
      return route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'the store is unavailable' }) });
    });
    await page.reload();
    await page.locator('#triggers-state').getByText('Loading triggers…').waitFor();
    expect(await page.getByText('No triggers yet.').isVisible()).toBe(false);
    release();
    await page.locator('#triggers-state').getByText('Could not load triggers: the store is unavailable.').waitFor();
    expect(await page.locator('#triggers tbody tr').count()).toBe(0);
    expect(await page.getByText('No triggers yet.').isVisible()).toBe(false);
    await shot('10-list-failed');
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.getByRole('row', { name: /Wraps of campaign 999 to the CRM agent\.wrap/ }).waitFor();
    expect(await page.locator('#triggers-state').isVisible()).toBe(false);
    expect(listCalls).toBe(2);
    await page.unrouteAll();

    // The health tab's first request fails: its error and Retry, then the counts.
    let statsCalls = 0;
    await page.route(/\/stats\?window=/, async (route) => {
      statsCalls += 1;
      if (statsCalls > 1) return route.continue();
      return route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'stats took too long; ask for less' }) });
    });
    await page
      .getByRole('row', { name: /Wraps of campaign 999 to the CRM agent\.wrap/ })
      .getByRole('button', { name: 'Wraps of campaign 999 to the CRM' })
      .click();
    await page.getByRole('tab', { name: 'Delivery health' }).click();
    await page.locator('#health-state').getByText('Could not load delivery health: stats took too long; ask for less.').waitFor();
    await page.locator('#health-state').getByRole('button', { name: 'Retry' }).click();
    await page.locator('#health-counts').getByText('Given up').waitFor();
    expect(await page.locator('#health-state').isVisible()).toBe(false);
    await page.unrouteAll();
  }, 60_000);

  it('pages a bigger tenant: 50 triggers and 50 event logs at a time, each view one request, health from the kept stats', async () => {
    const bigTenant = uniqueId('tenant');
    const bigKey = await createTenantKey(ctx(), bigTenant);
    const client = new ApiClient(apiUrl, bigKey);
    const triggers = await createWebhookTriggers(client, 60, { firstCampaign: 2000, url: `${receiver.url}/hooks` });
    const names = triggers.map((t) => t.name);
    const ids = triggers.map((t) => t.id);
    // 120 records per trigger over eight days, stored with their stats as the log-sink keeps them.
    const history = eventLogHistory(
      await ctx().mongo(),
      ids.map((triggerId) => ({ tenantId: bigTenant, triggerId })),
    );
    await growEventLogHistory(history, 60 * 120);

    const context = await browser.newContext();
    const big = await context.newPage();
    const asked: string[] = [];
    big.on('request', (r) => void (new URL(r.url()).pathname.startsWith('/v1/') && asked.push(`${r.method()} ${new URL(r.url()).pathname}`)));
    try {
      await big.goto(`${apiUrl}/`);
      await big.getByLabel('API key').fill(bigKey);
      await big.getByRole('button', { name: 'Sign in' }).click();
      await big.locator('#triggers tbody tr').nth(49).waitFor();
      expect(await big.locator('#triggers tbody tr').count()).toBe(50);
      // One request for the list, its columns included (after the sign-in's event types).
      expect(asked).toEqual(['GET /v1/event-types', 'GET /v1/triggers']);
      const first = big.getByRole('row', { name: new RegExp(`^${names[0]} agent\\.wrap`) });
      expect(await first.locator('td').nth(4).textContent()).toMatch(/^(webhook\.delivered 200|webhook\.attempt 503) /);
      await big.getByRole('button', { name: 'More triggers' }).click();
      await big.locator('#triggers tbody tr').nth(59).waitFor();
      expect(await big.locator('#triggers tbody tr').count()).toBe(60);
      expect(await big.getByRole('button', { name: 'More triggers' }).isVisible()).toBe(false);

      asked.length = 0;
      await big.getByRole('button', { name: names[3], exact: true }).click();
      await big.locator('#detail-title').getByText(names[3], { exact: true }).waitFor();
      asked.length = 0;
      await big.getByRole('tab', { name: 'Event Logs' }).click();
      await big.locator('#logs tbody tr').nth(49).waitFor();
      expect(asked).toEqual([`GET /v1/triggers/${ids[3]}/event-logs`]);
      await big.getByRole('button', { name: 'Older event logs' }).click();
      await big.locator('#logs tbody tr').nth(99).waitFor();
      await big.getByRole('button', { name: 'Older event logs' }).click();
      await big.locator('#logs tbody tr').nth(119).waitFor();
      await big.locator('#logs-state').waitFor({ state: 'hidden' });
      expect(await big.locator('#logs tbody tr').count()).toBe(120);

      asked.length = 0;
      await big.getByRole('tab', { name: 'Delivery health' }).click();
      await big.getByRole('img', { name: /Attempts per hour/ }).waitFor();
      expect(asked).toEqual([`GET /v1/triggers/${ids[3]}/stats`]);
      // The counts are the trigger's stored records of the window (its 24 whole hours).
      const { db } = await ctx().mongo();
      const now = Date.now();
      const from = new Date(now - (now % HOUR) - 23 * HOUR);
      const stored = (step: string) =>
        db.collection(EVENT_LOGS_COLLECTION).countDocuments({ tenantId: bigTenant, triggerId: ids[3], step, time: { $gte: from } });
      const counts = big.locator('#health-counts');
      expect(await counts.locator('div', { hasText: 'Delivered' }).locator('dd').textContent()).toBe(String(await stored('webhook.delivered')));
      expect(await counts.locator('div', { hasText: 'Failed attempts' }).locator('dd').textContent()).toBe(String(await stored('webhook.attempt')));
      await big.screenshot({ path: join(SHOTS, '11-bigger-tenant-health.png'), fullPage: true });
    } finally {
      await context.close();
    }
  }, 120_000);
});
