import { LogRecord, WebhookCommand, sampleEvent, webhookBody } from '@triggers/contracts';
import {
  AppProcess,
  PipelineDriver,
  ReceiverReply,
  TestContext,
  WebhookReceiver,
  readDecoded,
  startHealthyApp,
  startWebhookReceiver,
  testWebhookCommand,
  uniqueId,
  useTestContext,
} from '@triggers/testing';

const LOOPBACK = { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1/128' };
const body = webhookBody('agent.wrap', sampleEvent('agent.wrap').payload);

/** A dispatcher, receivers and a driver on a context's topics, all stopped after its tests. */
function useEndpoints(ctx: () => TestContext) {
  let driver: PipelineDriver;
  const apps: AppProcess[] = [];
  const receivers: WebhookReceiver[] = [];
  beforeAll(() => {
    driver = new PipelineDriver(ctx());
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop(5000)));
    await Promise.all(receivers.map((r) => r.close()));
    await driver.close();
  });
  return {
    get driver() {
      return driver;
    },
    async dispatcher(env: Record<string, string>) {
      const app = await startHealthyApp(ctx().env, 'webhook-dispatcher', { ...LOOPBACK, ...env });
      apps.push(app);
      return app;
    },
    async receiver(reply?: (req: unknown, index: number) => ReceiverReply) {
      const r = await startWebhookReceiver(reply);
      receivers.push(r);
      return r;
    },
    command: (t: { tenantId: string; triggerId: string }, url: string, i: number): WebhookCommand =>
      testWebhookCommand({ ...t, eventId: `evt-${i}-${uniqueId('e')}`, url, body }),
  };
}

/**
 * A hung endpoint under steady traffic: every delivery sent to it used to wait for one of its
 * connections while they timed out one round at a time, each holding a slot of the dispatcher's
 * in-flight window, until the window held nothing else and every endpoint waited.
 */
describe('webhook-dispatcher with a hung endpoint under steady traffic', () => {
  const ctx = useTestContext({ topics: true });
  const e = useEndpoints(ctx);

  it('keeps its window for the other endpoints: a hung one in every second command gets its 2 connections, and the rest of its deliveries fail as origin.busy and wait for their retry; the partition’s records follow once the hung ones time out', async () => {
    await e.dispatcher({
      WEBHOOK_MAX_IN_FLIGHT: '40',
      WEBHOOK_CONNECTIONS_PER_ORIGIN: '2',
      WEBHOOK_HEADERS_TIMEOUT_MS: '8000',
      WEBHOOK_MAX_QUEUE_WAIT_MS: '2000',
      WEBHOOK_RETRY_DELAY_MS: '600000',
    });
    const hung = await e.receiver(() => 'hang');
    const fast = await e.receiver();
    const th = await e.driver.webhookTrigger(hung.url);
    const tf = await e.driver.webhookTrigger(fast.url);
    // One partition, alternating: hung, fast, hung, fast…
    const commands = Array.from({ length: 200 }, (_, i) => [e.command(th, hung.url, i), e.command(tf, fast.url, i)]).flat();
    await e.driver.webhookCommands(commands, 'same-partition');

    // Before, after about 40 commands the window held only hung deliveries (2 running until their
    // timeout, the rest waiting for them) and the fast endpoint got nothing more meanwhile.
    await fast.waitFor(200, { timeoutMs: 30_000 });
    expect(fast.ids().size).toBe(200);
    expect(hung.hanging()).toBe(2);

    // The partition's records are committed with its offsets, in order: once the 2 hung attempts
    // time out. Each of the other 198 is one failed attempt, not sent, with its retry scheduled
    // (the endpoint's health turning failing is a record of its own, not an attempt).
    const failed = await readDecoded<LogRecord>(ctx(), ctx().config.kafka.topics.log, {
      expected: 200,
      where: (r) => r.tenantId === th.tenantId && r.step.startsWith('webhook.'),
    });
    expect(failed).toHaveLength(200);
    for (const { value } of failed) expect(value).toMatchObject({ status: 'failed', attempt: 1, nextDueAt: expect.any(Number) });
    const classes = failed.map((f) => f.value.http?.errorClass);
    expect(classes.filter((c) => c === 'origin.busy')).toHaveLength(198);
    expect(classes.filter((c) => c === 'timeout.headers')).toHaveLength(2);
    expect(new Set(failed.map((f) => f.value.commandId)).size).toBe(200);
  });
});

describe('webhook-dispatcher with a hung endpoint ahead in the partition', () => {
  const ctx = useTestContext({ topics: true });
  const e = useEndpoints(ctx);

  it('keeps delivering to others: 1,000 deliveries behind 50 hung ones in the same partition', async () => {
    await e.dispatcher({ WEBHOOK_HEADERS_TIMEOUT_MS: '30000' });
    const hung = await e.receiver(() => 'hang');
    const fast = await e.receiver();
    const th = await e.driver.webhookTrigger(hung.url);
    const tf = await e.driver.webhookTrigger(fast.url);
    const slow = Array.from({ length: 50 }, (_, i) => e.command(th, hung.url, i));
    const quick = Array.from({ length: 1000 }, (_, i) => e.command(tf, fast.url, i));
    // One key, so one partition, with the hung endpoint's commands first.
    const started = Date.now();
    await e.driver.webhookCommands([...slow, ...quick], 'same-partition');
    await fast.waitFor(1000, { timeoutMs: 20_000 });
    const took = Date.now() - started;
    expect(took).toBeLessThan(10_000);
    // Still hanging (the headers timeout is 30 s): the fast deliveries did not wait for them,
    // and the per-origin cap kept the hung endpoint to 16 connections.
    expect(hung.hanging()).toBe(16);
    expect(fast.ids().size).toBe(1000);
  });
});

/**
 * A slow endpoint is not a hung one. Before, a burst to an endpoint answering after 1.5 s (a
 * common CRM latency) had all 16 connections busy for over a second with nothing finished: the
 * stall rule failed every waiting delivery as origin.busy, 16 were delivered per retry tier, and
 * 200 failed attempts were logged for a healthy endpoint.
 */
describe('webhook-dispatcher with a slow endpoint', () => {
  const ctx = useTestContext({ topics: true });
  const e = useEndpoints(ctx);

  it('delivers a burst of 100 to an endpoint answering after 1.5 s in turn: no failed attempt, in rounds of 16 within 1.3 × 6 × 1.5 s of the first', async () => {
    await e.dispatcher({ WEBHOOK_RETRY_DELAY_MS: '600000' });
    const crm = await e.receiver(() => ({ status: 200, body: 'ok', delayMs: 1500 }));
    const t = await e.driver.webhookTrigger(crm.url);
    const commands = Array.from({ length: 100 }, (_, i) => e.command(t, crm.url, i));
    const started = Date.now();
    await e.driver.webhookCommands(commands);
    const records = await readDecoded<LogRecord>(ctx(), ctx().config.kafka.topics.log, {
      expected: 100,
      where: (r) => r.tenantId === t.tenantId,
      quietMs: 500,
    });
    expect(records.map((r) => r.value.step)).toEqual(Array(100).fill('webhook.delivered'));
    expect(crm.received).toHaveLength(100);
    // Served in turn: seven rounds of 16 (the last of 4), each sent as the one before is answered,
    // so the last request arrives within 1.3 × 6 × 1.5 s of the first (the start-up before the
    // first is the consumer's, not the endpoint's).
    const arrivals = crm.received.map((r) => r.at - started).sort((a, b) => a - b);
    const spread = arrivals[arrivals.length - 1] - arrivals[0];
    if (spread >= 1.3 * 6 * 1500) console.log(`arrivals, in ms after the burst was produced: ${arrivals.join(' ')}`);
    expect(spread).toBeLessThan(1.3 * 6 * 1500);
  });
});
