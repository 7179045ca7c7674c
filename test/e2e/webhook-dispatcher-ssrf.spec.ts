import { LogRecord } from '@triggers/contracts';
import {
  AppProcess,
  PipelineDriver,
  WebhookReceiver,
  readDecoded,
  startHealthyApp,
  startWebhookReceiver,
  testWebhookCommand,
  useTestContext,
} from '@triggers/testing';

/**
 * The SSRF guard of a dispatcher with no allow-list, as in production. The guard refuses before
 * connecting, so none of these addresses is ever contacted; the loopback receiver proves it.
 */
describe('webhook-dispatcher SSRF guard', () => {
  const ctx = useTestContext({ topics: true });
  let driver: PipelineDriver;
  let app: AppProcess;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    driver = new PipelineDriver(ctx());
    receiver = await startWebhookReceiver();
    app = await startHealthyApp(ctx().env, 'webhook-dispatcher');
  });

  afterAll(async () => {
    await app?.stop();
    await receiver?.close();
    await driver?.close();
  });

  it('refuses loopback, private, link-local, multicast and unspecified addresses, logs them as blocked and does not retry', async () => {
    const p = receiver.port;
    const cases: [string, string][] = [
      [`http://127.0.0.1:${p}/hook`, 'loopback'],
      [`http://localhost:${p}/hook`, 'loopback'],
      [`http://[::1]:${p}/hook`, 'loopback'],
      [`http://[::ffff:127.0.0.1]:${p}/hook`, 'loopback'],
      ['http://10.1.2.3/hook', 'private-use'],
      ['http://172.16.0.1/hook', 'private-use'],
      ['https://192.168.1.1/hook', 'private-use'],
      ['http://[fd00::1]/hook', 'unique-local'],
      ['http://169.254.169.254/latest/meta-data/', 'link-local'],
      ['http://2852039166/latest/meta-data/', 'link-local'],
      ['http://[fe80::1]/hook', 'link-local'],
      ['http://224.0.0.1/hook', 'multicast'],
      ['http://[ff02::1]/hook', 'multicast'],
      [`http://0.0.0.0:${p}/hook`, 'this network'],
      ['http://[::]/hook', 'unspecified'],
      ['http://[::10.0.0.1]/hook', 'IPv4-compatible'],
      ['http://[2002:a9fe:a9fe::1]/hook', 'link-local (cloud metadata lives here) inside 6to4'],
      ['http://[64:ff9b:1::a00:1]/hook', 'local use'],
      ['http://[2001::1]/hook', 'Teredo'],
      ['http://[fec0::1]/hook', 'site-local'],
    ];
    const { tenantId, triggerId } = await driver.webhookTrigger('https://example.com/');
    const commands = cases.map(([url], i) => testWebhookCommand({ tenantId, triggerId, eventId: `evt-${i}`, url }));
    await driver.webhookCommands(commands);
    const logs = (
      await readDecoded<LogRecord>(ctx(), ctx().config.kafka.topics.log, {
        expected: cases.length,
        where: (r) => r.tenantId === tenantId && r.step.startsWith('webhook.'),
        quietMs: 2000,
      })
    ).map((r) => r.value);
    expect(logs).toHaveLength(cases.length);
    for (const [i, [url, range]] of cases.entries()) {
      const log = logs.find((l) => l.commandId === commands[i].commandId);
      expect({ url, step: log?.step, status: log?.status, errorClass: log?.http?.errorClass, message: log?.message }).toEqual({
        url,
        step: 'webhook.blocked',
        status: 'failed',
        errorClass: 'blocked',
        message: expect.stringContaining(range),
      });
      expect(log!.nextDueAt).toBeNull();
    }
    expect(receiver.received).toHaveLength(0);
  });
});
