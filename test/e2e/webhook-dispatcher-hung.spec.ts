import { LogRecord, WebhookCommand, sampleEvent, webhookBody } from '@triggers/contracts';
import {
  AppProcess,
  PipelineDriver,
  WebhookReceiver,
  readDecoded,
  startHealthyApp,
  startWebhookReceiver,
  testWebhookCommand,
  uniqueId,
  useTestContext,
} from '@triggers/testing';

/**
 * A hung endpoint under steady traffic: every delivery sent to it used to wait for one of its
 * connections while they timed out one round at a time, each holding a slot of the dispatcher's
 * in-flight window, until the window held nothing else and every endpoint waited.
 */
describe('webhook-dispatcher with a hung endpoint under steady traffic', () => {
  const ctx = useTestContext({ topics: true });
  let driver: PipelineDriver;
  let app: AppProcess | undefined;
  const receivers: WebhookReceiver[] = [];

  beforeAll(() => {
    driver = new PipelineDriver(ctx());
  });

  afterAll(async () => {
    await app?.stop(5000);
    await Promise.all(receivers.map((r) => r.close()));
    await driver.close();
  });

  it('keeps its window for the other endpoints: a hung one in every second command gets its 2 connections, and the rest of its deliveries fail as origin.busy and wait for their retry; the partition’s records follow once the hung ones time out', async () => {
    app = await startHealthyApp(ctx().env, 'webhook-dispatcher', {
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1/128',
      WEBHOOK_MAX_IN_FLIGHT: '40',
      WEBHOOK_CONNECTIONS_PER_ORIGIN: '2',
      WEBHOOK_HEADERS_TIMEOUT_MS: '8000',
      WEBHOOK_MAX_QUEUE_WAIT_MS: '2000',
      WEBHOOK_RETRY_DELAY_MS: '600000',
    });
    const hung = await startWebhookReceiver(() => 'hang');
    const fast = await startWebhookReceiver();
    receivers.push(hung, fast);
    const th = await driver.webhookTrigger(hung.url);
    const tf = await driver.webhookTrigger(fast.url);
    const body = webhookBody('agent.wrap', sampleEvent('agent.wrap').payload);
    const command = (t: { tenantId: string; triggerId: string }, url: string, i: number): WebhookCommand =>
      testWebhookCommand({ ...t, eventId: `evt-${i}-${uniqueId('e')}`, url, body });
    // One partition, alternating: hung, fast, hung, fast…
    const commands = Array.from({ length: 200 }, (_, i) => [command(th, hung.url, i), command(tf, fast.url, i)]).flat();
    await driver.webhookCommands(commands, 'same-partition');

    // Before, after about 40 commands the window held only hung deliveries (2 running until their
    // timeout, the rest waiting for them) and the fast endpoint got nothing more meanwhile.
    await fast.waitFor(200, { timeoutMs: 30_000 });
    expect(fast.ids().size).toBe(200);
    expect(hung.hanging()).toBe(2);

    // The partition's records are committed with its offsets, in order: once the 2 hung attempts
    // time out. Each of the other 198 is one failed attempt, not sent, with its retry scheduled.
    const failed = await readDecoded<LogRecord>(ctx(), ctx().config.kafka.topics.log, {
      expected: 200,
      where: (r) => r.tenantId === th.tenantId,
    });
    expect(failed).toHaveLength(200);
    for (const { value } of failed) expect(value).toMatchObject({ status: 'failed', attempt: 1, nextDueAt: expect.any(Number) });
    const classes = failed.map((f) => f.value.http?.errorClass);
    expect(classes.filter((c) => c === 'origin.busy')).toHaveLength(198);
    expect(classes.filter((c) => c === 'timeout.headers')).toHaveLength(2);
    expect(new Set(failed.map((f) => f.value.commandId)).size).toBe(200);
  });
});
