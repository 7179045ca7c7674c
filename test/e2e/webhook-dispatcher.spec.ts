import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { LogRecord, TriggerConfigRecord, WebhookCommand, sampleEvent, webhookBody } from '@triggers/contracts';
import {
  AppProcess,
  PipelineDriver,
  WebhookReceiver,
  readDecoded,
  readTopic,
  startHealthyApp,
  startWebhookReceiver,
  testWebhookCommand,
  uniqueId,
  useTestContext,
  waitFor,
} from '@triggers/testing';

const RETRY_DELAY_MS = 2000;
/** Attempts at about 0, 2, 4 and 6 s; the next would be at about 8 s, past the window. */
const RETRY_WINDOW_MS = 3.5 * RETRY_DELAY_MS;
const LOOPBACK = { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1/128' };
const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

describe('webhook-dispatcher', () => {
  const ctx = useTestContext({ topics: true });
  let driver: PipelineDriver;
  const running: AppProcess[] = [];
  const receivers: WebhookReceiver[] = [];

  beforeAll(() => {
    driver = new PipelineDriver(ctx());
  });

  afterAll(async () => {
    await Promise.all(running.map((a) => a.stop(5000)));
    await Promise.all(receivers.map((r) => r.close()));
    await driver.close();
  });

  const receiver = async (...args: Parameters<typeof startWebhookReceiver>) => {
    const r = await startWebhookReceiver(...args);
    receivers.push(r);
    return r;
  };

  const startDispatcher = async (env: Record<string, string> = {}) => {
    const app = await startHealthyApp(ctx().env, 'webhook-dispatcher', {
      ...LOOPBACK,
      WEBHOOK_RETRY_DELAY_MS: String(RETRY_DELAY_MS),
      WEBHOOK_RETRY_WINDOW_MS: String(RETRY_WINDOW_MS),
      // The 10-minute tier lasts RETRY_DELAY_MS: a minute of a trigger's own window a tenth of it.
      WEBHOOK_RETRY_WINDOW_MINUTE_MS: String(RETRY_DELAY_MS / 10),
      ...env,
    });
    running.push(app);
    return app;
  };

  /** A tenant with one webhook trigger on the config topic; returns what commands need. */
  const tenantWithTrigger = (url: string, webhookSecrets?: TriggerConfigRecord['webhookSecrets']) => driver.webhookTrigger(url, webhookSecrets);

  const body = webhookBody('agent.wrap', sampleEvent('agent.wrap').payload);
  const command = (t: { tenantId: string; triggerId: string }, url: string, i: number): WebhookCommand =>
    testWebhookCommand({ ...t, eventId: `evt-${i}-${uniqueId('e')}`, url, body });

  const logsOf = (tenantId: string, expected: number, quietMs = 1000) =>
    readDecoded<LogRecord>(ctx(), ctx().config.kafka.topics.log, {
      expected,
      where: (r) => r.tenantId === tenantId && r.step.startsWith('webhook.'),
      quietMs,
    }).then((rs) => rs.map((r) => r.value));

  describe('with one dispatcher', () => {
    beforeAll(async () => {
      await startDispatcher({ WEBHOOK_HEADERS_TIMEOUT_MS: '30000' });
    });

    it('posts the body unchanged with Standard Webhooks headers, signed with every live secret, and logs the delivery', async () => {
      const r = await receiver();
      const [current, previous, expired] = [newSecret(), newSecret(), newSecret()];
      const t = await tenantWithTrigger(`${r.url}/hooks`, [
        { id: 's1', secret: expired, notAfter: Date.now() - 1000 },
        { id: 's2', secret: previous, notAfter: Date.now() + 3_600_000 },
        { id: 's3', secret: current, notAfter: null },
      ]);
      const c = command(t, `${r.url}/hooks?x=1`, 1);
      await driver.webhookCommands([c]);
      const [req] = await r.waitFor(1);
      expect(req.path).toBe('/hooks?x=1');
      expect(req.body).toBe(body);
      expect(JSON.parse(req.body)).toEqual({ type: 'agent.wrap', payload: sampleEvent('agent.wrap').payload });
      expect(req.headers).toMatchObject({ 'content-type': 'application/json', 'webhook-id': c.commandId, 'user-agent': expect.stringContaining('Triggers') });
      expect(req.headers['webhook-signature'].split(' ')).toHaveLength(2);
      // Receivers holding either live secret can verify; the expired one no longer signs.
      for (const secret of [current, previous]) expect(new Webhook(secret).verify(req.body, req.headers)).toEqual(JSON.parse(body));
      expect(() => new Webhook(expired).verify(req.body, req.headers)).toThrow();

      const [log] = await logsOf(t.tenantId, 1);
      expect(log).toMatchObject({
        step: 'webhook.delivered',
        status: 'ok',
        attempt: 1,
        commandId: c.commandId,
        triggerId: t.triggerId,
        eventId: c.eventId,
        nextDueAt: null,
      });
      expect(log.http).toMatchObject({
        method: 'POST',
        url: c.url,
        requestBody: body,
        responseStatus: 200,
        responseBody: 'ok',
        responseTruncated: false,
        errorClass: null,
      });
      expect(log.http!.requestHeaders['webhook-id']).toBe(c.commandId);
    });

    it('retries a 500 through the 10-minute tier (compressed): the same webhook-id again, within due + 1 s', async () => {
      const r = await receiver((_req, i) => (i === 0 ? { status: 500, body: 'boom' } : { status: 204 }));
      const t = await tenantWithTrigger(r.url);
      const c = command(t, r.url, 1);
      await driver.webhookCommands([c]);
      const [first, second] = await r.waitFor(2, { timeoutMs: 15_000 });
      const logs = await logsOf(t.tenantId, 2);
      const failed = logs.find((l) => l.step === 'webhook.attempt')!;
      expect(failed).toMatchObject({
        status: 'failed',
        attempt: 1,
        http: expect.objectContaining({ responseStatus: 500, responseBody: 'boom', errorClass: 'http.status' }),
      });
      expect(failed.message).toContain('HTTP 500');
      expect(failed.nextDueAt! - failed.time).toBe(RETRY_DELAY_MS);
      expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
      expect(second.at).toBeGreaterThanOrEqual(failed.nextDueAt!);
      expect(second.at).toBeLessThanOrEqual(failed.nextDueAt! + 1000);
      expect(logs.find((l) => l.step === 'webhook.delivered')).toMatchObject({ attempt: 2, http: expect.objectContaining({ responseStatus: 204 }) });
    });

    it('gives up after the window with the exact number of attempts, dead-letters the command and logs "gave up"', async () => {
      const r = await receiver(() => ({ status: 503 }));
      const t = await tenantWithTrigger(r.url);
      // Attempts at about 0, 2, 4 and 6 s; the next would be at about 8 s, past the 7 s window.
      const c = command(t, r.url, 1);
      await driver.webhookCommands([c]);
      const logs = await logsOf(t.tenantId, 4, 3000);
      const gaveUp = logs.filter((l) => l.step === 'webhook.gave_up');
      expect(gaveUp).toEqual([expect.objectContaining({ attempt: 4, status: 'failed', message: expect.stringContaining('gave up after 4 attempts') })]);
      expect(logs.filter((l) => l.step === 'webhook.attempt').map((l) => l.attempt)).toEqual([1, 2, 3]);
      expect(r.received).toHaveLength(4);
      const dead = await readDecoded<WebhookCommand>(ctx(), ctx().config.kafka.topics.deadLetterWebhook, {
        expected: 1,
        where: (x) => x.commandId === c.commandId,
      });
      expect(dead[0].value).toMatchObject({ commandId: c.commandId, attempt: 4 });
      expect(dead[0].headers['dlq-reason']).toContain('HTTP 503');
    });

    it("gives up at the end of the trigger's own 25-minute window (compressed): 3 attempts where the dispatcher's window makes 4", async () => {
      const r = await receiver(() => ({ status: 503 }));
      const t = await tenantWithTrigger(r.url);
      // Attempts at about 0, 2 and 4 s (0, 10 and 20 minutes); the next, at 30 minutes, would be past the window.
      const c = { ...command(t, r.url, 1), retryWindowMinutes: 25 };
      await driver.webhookCommands([c]);
      const logs = await logsOf(t.tenantId, 3, 3000);
      expect(logs.filter((l) => l.step === 'webhook.attempt').map((l) => l.attempt)).toEqual([1, 2]);
      expect(logs.filter((l) => l.step === 'webhook.gave_up')).toEqual([
        expect.objectContaining({ attempt: 3, message: expect.stringContaining(`gave up after 3 attempts over ${(25 * RETRY_DELAY_MS) / 10 / 1000} s`) }),
      ]);
      expect(r.received).toHaveLength(3);
    });

    it('reads only the first 10 kB of a 50 kB response', async () => {
      const big = 'x'.repeat(50 * 1024);
      const r = await receiver(() => ({ status: 200, body: big }));
      const t = await tenantWithTrigger(r.url);
      await driver.webhookCommands([command(t, r.url, 1)]);
      const [log] = await logsOf(t.tenantId, 1);
      expect(log.step).toBe('webhook.delivered');
      expect(log.http!.responseBody).toBe(big.slice(0, 10 * 1024));
      expect(log.http!.responseTruncated).toBe(true);
    });

    it('gives a command up at once on 410 Gone: one attempt, logged with its reason and dead-lettered as gone', async () => {
      const r = await receiver(() => ({ status: 410, body: 'no such hook' }));
      const t = await tenantWithTrigger(r.url);
      const c = command(t, r.url, 1);
      await driver.webhookCommands([c]);
      const logs = await logsOf(t.tenantId, 1, 3000);
      expect(logs).toEqual([
        expect.objectContaining({
          step: 'webhook.gave_up',
          attempt: 1,
          message: 'gone, not retried: HTTP 410 at attempt 1, the endpoint says it no longer exists',
          http: expect.objectContaining({ responseStatus: 410, responseBody: 'no such hook' }),
        }),
      ]);
      const dead = await readDecoded<WebhookCommand>(ctx(), ctx().config.kafka.topics.deadLetterWebhook, {
        expected: 1,
        where: (x) => x.commandId === c.commandId,
      });
      expect(dead[0].headers).toMatchObject({ 'dlq-error-class': 'gone', 'dlq-reason': expect.stringContaining('HTTP 410') });
      expect(r.received).toHaveLength(1);
    });

    it('waits as long as a 429 asks with Retry-After when that is longer than the tier, and says so in the Event Logs', async () => {
      const r = await receiver((_req, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '5' } } : { status: 204 }));
      const t = await tenantWithTrigger(r.url);
      await driver.webhookCommands([command(t, r.url, 1)]);
      const [, second] = await r.waitFor(2, { timeoutMs: 15_000 });
      const logs = await logsOf(t.tenantId, 2);
      const failed = logs.find((l) => l.step === 'webhook.attempt')!;
      expect(failed.message).toContain('the endpoint asked to wait 5 s (Retry-After)');
      // 5 s where the tier is 2 s.
      expect(failed.nextDueAt! - failed.time).toBe(5000);
      expect(second.at).toBeGreaterThanOrEqual(failed.nextDueAt!);
      expect(logs.find((l) => l.step === 'webhook.delivered')).toMatchObject({ attempt: 2 });
    });

    it('cancels commands of a deleted trigger and dead-letters unreadable ones', async () => {
      const r = await receiver();
      // Only the tombstone: a trigger created a moment before could still be delivered to while
      // the dispatcher has not read its deletion yet, which is not what this test is about.
      const t = { tenantId: uniqueId('tenant'), triggerId: uniqueId('trigger') };
      await driver.trigger(t.tenantId, t.triggerId, null);
      await driver.webhookCommands([command(t, r.url, 1)]);
      await driver.raw(ctx().config.kafka.topics.webhookCommands, Buffer.from('{"not":"avro"}'), 'poison-key');
      const [log] = await logsOf(t.tenantId, 1);
      expect(log).toMatchObject({ step: 'webhook.gave_up', status: 'failed', message: expect.stringContaining('trigger was deleted') });
      expect(r.received).toHaveLength(0);
      const dead = await waitFor(
        async () =>
          (await readTopic(ctx().kafka, ctx().config.kafka.topics.deadLetterWebhook, { expected: 100, timeoutMs: 2000 })).find(
            (m) => m.key?.toString() === 'poison-key',
          ),
        {
          timeoutMs: 20_000,
          description: 'the unreadable command on the dead-letter topic',
        },
      );
      expect(dead!.headers?.['dlq-reason']?.toString()).toContain('not Confluent Avro');
    });
  });
});
