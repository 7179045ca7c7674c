/**
 * The web page at a tenant's real size (`npm run bench -- page`): one tenant with 200 triggers
 * (BENCH_PAGE_TRIGGERS) and 1,000,000 event-log records over them (BENCH_PAGE_RECORDS, with their
 * stats as the log-sink keeps them), the API as a process on the embedded store, and Chromium (the
 * test suite's browser) loading the page afresh several times. Each load times, as a tenant admin
 * sees it: sign-in to the triggers list's first page complete (every column), a trigger's Event
 * Logs tab to its first page, its Delivery health tab to the chart; and counts the API requests of
 * each view. `page.json`: `listMs`, `eventLogsMs`, `healthMs` (p50/p95 over the loads).
 */
import { Page, chromium } from 'playwright-core';
import { ApiClient, createTenantKey, createWebhookTriggers, eventLogHistory, growEventLogHistory, startApi, uniqueId } from '@triggers/testing';
import { percentile, report } from './bench-report';
import { benchContext } from './infra';

const QUICK = Boolean(process.env.BENCH_QUICK);
const TRIGGERS = Number(process.env.BENCH_PAGE_TRIGGERS ?? 200);
const RECORDS = Number(process.env.BENCH_PAGE_RECORDS ?? (QUICK ? 20_000 : 1_000_000));
const LOADS = Number(process.env.BENCH_PAGE_LOADS ?? (QUICK ? 3 : 10));
/** The page shows triggers and event logs 50 at a time. */
const PAGE = 50;
const GROW_STEP = 100_000;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** How long one view may take before the load counts as failed. */
const VIEW_TIMEOUT_MS = 60_000;

export async function pageBenchmark(): Promise<void> {
  const { ctx, stopInfra } = await benchContext();
  const { app, client } = await startApi(ctx, { API_RATE_LIMIT_PER_MINUTE: '100000', WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', LOG_LEVEL: 'warn' });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const tenantId = uniqueId('tenant');
    const key = await createTenantKey(ctx, tenantId);
    const api = new ApiClient(client.baseUrl, key);
    const triggers = await createWebhookTriggers(api, TRIGGERS, { firstCampaign: 1000, url: 'http://127.0.0.1:9/hooks' });
    process.stderr.write(`page: ${TRIGGERS} triggers created\n`);
    const started = Date.now();
    const history = eventLogHistory(
      await ctx.mongo(),
      triggers.map((t) => ({ tenantId, triggerId: t.id })),
    );
    for (let size = Math.min(GROW_STEP, RECORDS); history.records < RECORDS; size = Math.min(RECORDS, size + GROW_STEP)) {
      await growEventLogHistory(history, size);
      process.stderr.write(`page: ${size} event-log records and their stats (${Math.round((Date.now() - started) / 1000)} s)\n`);
    }

    const times = { listMs: [] as number[], eventLogsMs: [] as number[], healthMs: [] as number[] };
    const requests = { list: 0, eventLogs: 0, health: 0 };
    for (let load = 0; load < LOADS; load++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(VIEW_TIMEOUT_MS);
      const asked: string[] = [];
      const answered: { url: string; ms: number }[] = [];
      page.on('request', (r) => {
        if (new URL(r.url()).pathname.startsWith('/v1/')) asked.push(r.url());
      });
      page.on('requestfinished', (r) => {
        if (new URL(r.url()).pathname.startsWith('/v1/')) answered.push({ url: r.url(), ms: Math.round(r.timing().responseEnd) });
      });
      await page.goto(`${client.baseUrl}/`);
      await page.getByLabel('API key').fill(key);
      // Each load opens another trigger of the first page (the stats are kept a few seconds per trigger).
      const trigger = triggers[(load * 7) % Math.min(PAGE, triggers.length)];

      const list = await timed(page, asked, async () => {
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page
          .locator('#triggers tbody tr')
          .nth(Math.min(PAGE, triggers.length) - 1)
          .waitFor();
        await page.locator('#triggers-state').waitFor({ state: 'hidden' });
      });
      await page.getByRole('button', { name: trigger.name, exact: true }).click();
      await page.locator('#detail-title').getByText(trigger.name, { exact: true }).waitFor();
      const eventLogs = await timed(page, asked, async () => {
        await page.getByRole('tab', { name: 'Event Logs' }).click();
        await page
          .locator('#logs tbody tr')
          .nth(PAGE - 1)
          .waitFor();
        await page.locator('#logs-state').waitFor({ state: 'hidden' });
      });
      const health = await timed(page, asked, async () => {
        await page.getByRole('tab', { name: 'Delivery health' }).click();
        await page.getByRole('img', { name: /Attempts per hour/ }).waitFor();
        await page.locator('#health-state').waitFor({ state: 'hidden' });
      });
      times.listMs.push(list.ms);
      times.eventLogsMs.push(eventLogs.ms);
      times.healthMs.push(health.ms);
      // The list's requests include the sign-in's event types.
      requests.list = Math.max(requests.list, list.requests - 1);
      requests.eventLogs = Math.max(requests.eventLogs, eventLogs.requests);
      requests.health = Math.max(requests.health, health.requests);
      process.stderr.write(
        `page: load ${load + 1}: list ${list.ms} ms, event logs ${eventLogs.ms} ms, health ${health.ms} ms; requests ${answered.map((a) => `${new URL(a.url).pathname.replace(/^\/v1\//, '')} ${a.ms} ms`).join(', ')}\n`,
      );
      await context.close();
    }
    const summary = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), loads: values };
    };
    report('page', {
      setup: { triggers: TRIGGERS, records: RECORDS, loads: LOADS, pageSize: PAGE, server: 'FerretDB (the test profile)', browser: 'Chromium, headless' },
      listMs: summary(times.listMs),
      eventLogsMs: summary(times.eventLogsMs),
      healthMs: summary(times.healthMs),
      /** The most API requests one view made over the loads (the list's without the sign-in's). */
      requestsPerView: requests,
    });
  } finally {
    await browser.close();
    await app.stop();
    await stopInfra();
  }
}

/** Runs one view's steps and says how long they took and how many API requests they made. */
async function timed(page: Page, asked: string[], steps: () => Promise<void>): Promise<{ ms: number; requests: number }> {
  const before = asked.length;
  const started = performance.now();
  await steps();
  return { ms: Math.round(performance.now() - started), requests: asked.length - before };
}
