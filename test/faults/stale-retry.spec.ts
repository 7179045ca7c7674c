import { Partitioners } from 'kafkajs';
import { HEADERS, LogRecord, WebhookCommand, triggerKey } from '@triggers/contracts';
import { readDecoded, testWebhookCommand, uniqueId, useHarness, useTestContext, waitForConsumed } from '@triggers/testing';

/**
 * A dispatcher killed between producing a retry and committing the attempt that caused it repeats
 * the attempt, which may succeed; the retry it had produced is then stale. Here that end state is
 * made directly: a command delivered, and its retry waiting on the retry tier. The retry must be
 * dropped, by the instance that delivered it and by a fresh one that only knows the log topic.
 */
describe('a stale retry of a delivered webhook', () => {
  const ctx = useTestContext({ topics: true });
  const t = useHarness(ctx);

  const startDispatcher = () => t.start('webhook-dispatcher', { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', WEBHOOK_RETRY_DELAY_MS: '2000' });

  const staleRetry = async (command: WebhookCommand, attempt: number) => {
    const topic = ctx().config.kafka.topics.webhookRetry;
    const producer = ctx().kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const retry = { ...command, attempt, dueAt: Date.now() };
    await producer.send({
      topic,
      messages: [
        {
          key: triggerKey(command.tenantId, command.triggerId),
          value: await ctx().serde.encode('webhookRetry', retry),
          headers: { [HEADERS.dueAt]: String(retry.dueAt) },
        },
      ],
    });
    await producer.disconnect();
  };

  it('is dropped, not delivered again: one request, one webhook.delivered', async () => {
    const { tenantId, triggerId } = await t.driver.webhookTrigger(t.receiver.url);
    const command = testWebhookCommand({ tenantId, triggerId, eventId: uniqueId('e'), url: `${t.receiver.url}/once`, body: '{"type":"agent.wrap"}' });
    const ofCommand = (r: { headers: Record<string, string> }) => r.headers['webhook-id'] === command.commandId;
    const groupId = `${ctx().namespace}-webhook-dispatcher`;
    const retryTopic = ctx().config.kafka.topics.webhookRetry;

    const first = await startDispatcher();
    await t.driver.webhookCommands([command]);
    await t.receiver.waitFor(1, { where: ofCommand });
    await readDecoded<LogRecord>(ctx(), ctx().config.kafka.topics.log, { expected: 1, where: (r) => r.commandId === command.commandId, quietMs: 0 });
    // The instance that delivered it drops a stale retry from its own memory...
    await staleRetry(command, 2);
    await waitForConsumed(ctx(), groupId, retryTopic);
    await first.stop();

    // ...and a fresh instance knows it from the log topic.
    await staleRetry(command, 3);
    await startDispatcher();
    await waitForConsumed(ctx(), groupId, retryTopic);

    expect(t.receiver.received.filter(ofCommand)).toHaveLength(1);
    const records = (await readDecoded<LogRecord>(ctx(), ctx().config.kafka.topics.log, { expected: 1, where: (r) => r.commandId === command.commandId })).map(
      (r) => r.value,
    );
    expect(records.map((r) => [r.step, r.attempt])).toEqual([['webhook.delivered', 1]]);
  }, 120_000);
});
