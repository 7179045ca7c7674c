import type { LogRecord } from '@triggers/contracts';
import { readDecoded, testWebhookCommand, useHarness, useTestContext, waitFor } from '@triggers/testing';

describe('webhook-dispatcher crash', () => {
  const ctx = useTestContext({ topics: true });
  const t = useHarness(ctx);

  const start = () => t.start('webhook-dispatcher', { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' });

  it('loses no command across a kill -9 during a burst of 5,000; repeats carry the same webhook-id, and each command has one webhook.delivered on the log topic', async () => {
    const { tenantId, triggerId } = await t.driver.webhookTrigger(t.receiver.url);
    const commands = Array.from({ length: 5000 }, (_, i) =>
      testWebhookCommand({ tenantId, triggerId, eventId: `evt-${i}`, url: `${t.receiver.url}/${i}`, body: `{"i":${i}}` }),
    );
    // Spread over the partitions by command, as many triggers would be.
    for (let i = 0; i < commands.length; i += 500) await Promise.all(commands.slice(i, i + 500).map((c) => t.driver.webhookCommands([c], c.commandId)));
    const first = await start();
    await t.receiver.waitFor(1000, { timeoutMs: 30_000 });
    first.child.kill('SIGKILL');
    await first.exited;
    const beforeRestart = t.receiver.ids().size;
    expect(beforeRestart).toBeLessThan(5000);
    await start();
    await waitFor(() => t.receiver.ids().size === 5000, {
      timeoutMs: 60_000,
      intervalMs: 100,
      description: `all 5,000 webhook-ids (have ${t.receiver.ids().size})`,
    });
    const expected = new Set(commands.map((c) => c.commandId));
    expect(t.receiver.ids()).toEqual(expected);
    // Every request of one webhook-id carried that command's body: a repeat is the same delivery.
    for (const r of t.receiver.received) {
      const i = Number(r.path.slice(1));
      expect(r.headers['webhook-id']).toBe(commands[i].commandId);
      expect(r.body).toBe(commands[i].body);
    }
    // Outcomes are committed with the offsets: a repeated POST wrote no second record.
    const records = await readDecoded<LogRecord>(ctx(), ctx().config.kafka.topics.log, { expected: 5000, where: (r) => r.tenantId === tenantId });
    expect(records).toHaveLength(5000);
    expect(new Set(records.map((r) => r.value.commandId))).toEqual(expected);
    for (const { value } of records) expect(value).toMatchObject({ step: 'webhook.delivered', attempt: 1 });
  });
});
