import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, Page, chromium } from 'playwright-core';
import {
  AppProcess,
  PipelineDriver,
  WebhookReceiver,
  createTenantKey,
  repoRoot,
  specPayload,
  startApi,
  startHealthyApp,
  startWebhookReceiver,
  uniqueId,
  useTestContext,
  waitFor,
} from '@triggers/testing';

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

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    receiver = await startWebhookReceiver();
    driver = new PipelineDriver(ctx());
    const loopback = { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' };
    const { app, client } = await startApi(ctx(), loopback);
    running.push(app);
    apiUrl = client.baseUrl;
    running.push(
      ...(await Promise.all([
        startHealthyApp(ctx().env, 'matcher'),
        startHealthyApp(ctx().env, 'webhook-dispatcher', loopback),
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
});
