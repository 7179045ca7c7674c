import { LogRecord, WebhookCommand } from '@triggers/contracts';
import { readDecoded, testWebhookCommand, uniqueId, useHarness, useTestContext, waitFor } from '@triggers/testing';

/**
 * A dispatcher killed while attempts are under way repeats them (at-least-once POSTs, the same
 * `webhook-id`), but what the attempts wrote to Kafka is written once: each command's retry, its
 * log record and its offset are committed in one transaction, so a kill -9 can no longer leave a
 * retry behind for an attempt that is then made again.
 */
describe('a dispatcher killed mid-burst', () => {
  const ctx = useTestContext({ topics: true });
  // The receiver answers 500 to everything: each command's first attempt fails.
  const t = useHarness(ctx, { reply: () => ({ status: 500 }) });

  it('leaves one retry and one webhook.attempt per failed command, however many times each was sent', async () => {
    const failing = t.receiver;
    const { tenantId, triggerId } = await t.driver.webhookTrigger(failing.url);
    const commands: WebhookCommand[] = Array.from({ length: 600 }, (_, i) =>
      testWebhookCommand({ tenantId, triggerId, eventId: uniqueId(`e${i}`), url: `${failing.url}/${i}`, body: `{"i":${i}}` }),
    );
    for (let i = 0; i < commands.length; i += 100) await Promise.all(commands.slice(i, i + 100).map((c) => t.driver.webhookCommands([c], c.commandId)));
    // Retries far away: each command is attempted once, however often a crash repeats it.
    const env = { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_RETRY_DELAY_MS: '600000', WEBHOOK_COMMIT_INTERVAL_MS: '1000' };
    const first = await t.start('webhook-dispatcher', env);
    await failing.waitFor(200, { timeoutMs: 30_000 });
    first.child.kill('SIGKILL');
    await first.exited;
    await t.start('webhook-dispatcher', env);
    await waitFor(() => failing.ids().size === commands.length, {
      timeoutMs: 60_000,
      description: `all ${commands.length} webhook-ids (have ${failing.ids().size})`,
    });

    const { log, webhookRetry } = ctx().config.kafka.topics;
    const ofTenant = (r: { tenantId: string }) => r.tenantId === tenantId;
    const retries = await readDecoded<WebhookCommand>(ctx(), webhookRetry, { expected: commands.length, where: ofTenant });
    const all = await readDecoded<LogRecord>(ctx(), log, { expected: commands.length + 1, where: ofTenant });
    const records = all.filter((r) => r.value.step.startsWith('webhook.'));
    expect(retries.map((r) => r.value.attempt)).toEqual(commands.map(() => 2));
    expect(new Set(retries.map((r) => r.value.commandId))).toEqual(new Set(commands.map((c) => c.commandId)));
    expect(records.map((r) => [r.value.step, r.value.attempt])).toEqual(commands.map(() => ['webhook.attempt', 1]));
    // The endpoint's health turned failing once, however often the kill made its attempts repeat.
    expect(all.filter((r) => r.value.step === 'endpoint.failing')).toHaveLength(1);
    expect(new Set(records.map((r) => r.value.commandId)).size).toBe(commands.length);
    // The kill repeated the attempts it interrupted: they were sent again, with the same id.
    expect(failing.received.length).toBeGreaterThan(commands.length);
  }, 180_000);
});
