import { AssignerProtocol, Consumer, PartitionAssigners } from 'kafkajs';
import { newLogRecord } from '@triggers/contracts';
import { EVENT_LOGS_COLLECTION } from '@triggers/mongo';
import { AppProcess, PipelineDriver, freePort, startApp, uniqueId, useTestContext, waitFor } from '@triggers/testing';

/**
 * A real fault that stops a kafkajs consumer for good: another member holds the group with a
 * protocol the app's consumer does not speak, so the broker refuses its JoinGroup with
 * INCONSISTENT_GROUP_PROTOCOL (not retriable: kafkajs crashes the consumer with restart false).
 */
async function intruder(ctx: ReturnType<ReturnType<typeof useTestContext>>, groupId: string, topic: string): Promise<Consumer> {
  const other: typeof PartitionAssigners.roundRobin = (config) => ({
    ...PartitionAssigners.roundRobin(config),
    name: 'OtherProtocol',
    protocol: ({ topics }) => ({ name: 'OtherProtocol', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) }),
  });
  const consumer = ctx.kafka.consumer({ groupId, partitionAssigners: [other], sessionTimeout: 6000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  await consumer.run({ eachMessage: async () => undefined });
  await waitFor(() => joined, { timeoutMs: 30_000, description: 'the intruder to hold the group' });
  return consumer;
}

const livez = async (app: AppProcess) => {
  const res = await fetch(`http://127.0.0.1:${app.port}/livez`);
  return { status: res.status, body: (await res.json()) as { dead?: string[] } };
};

describe('consumer supervision', () => {
  describe('a consumer stopped by a non-retriable error', () => {
    const ctx = useTestContext({ topics: true });
    let app: AppProcess | undefined;
    afterAll(() => app?.stop());

    it('is restarted by its engine and goes on once it can join', async () => {
      const topic = ctx().config.kafka.topics.log;
      const blocker = await intruder(ctx(), `${ctx().namespace}-log-sink`, topic);
      app = startApp('log-sink', { ...ctx().env, PORT: String(await freePort()) });
      await waitFor(() => (app!.output().match(/its engine restarts it/g) ?? []).length >= 2, {
        timeoutMs: 60_000,
        description: 'the engine restarting the crashed consumer',
      });
      expect((await livez(app)).status).toBe(200);
      await blocker.disconnect();

      const tenantId = uniqueId('tenant');
      const driver = new PipelineDriver(ctx());
      await driver.logRecords([
        newLogRecord({
          logId: `${tenantId}-1`,
          tenantId,
          triggerId: 't',
          eventId: 'e',
          eventType: 'agent.wrap',
          step: 'matched',
          status: 'info',
          time: Date.now(),
          message: 'after the restart',
        }),
      ]);
      await driver.close();
      const logs = (await ctx().mongo()).db.collection(EVENT_LOGS_COLLECTION);
      await waitFor(async () => (await logs.countDocuments({ tenantId })) === 1, {
        timeoutMs: 60_000,
        description: 'the record written by the restarted consumer',
      });
      expect((await livez(app)).status).toBe(200);
    }, 150_000);
  });

  describe('a consumer that cannot come back', () => {
    const ctx = useTestContext({ topics: true });
    let app: AppProcess | undefined;
    let blocker: Consumer | undefined;
    afterAll(async () => {
      await app?.stop();
      await blocker?.disconnect();
    });

    it('turns /livez to 503 naming it, so the orchestrator restarts the process', async () => {
      blocker = await intruder(ctx(), `${ctx().namespace}-log-sink`, ctx().config.kafka.topics.log);
      app = startApp('log-sink', { ...ctx().env, PORT: String(await freePort()), CONSUMER_RESTART_GIVE_UP_MS: '5000' });
      await waitFor(async () => (await livez(app!).catch(() => ({ status: 0, body: {} }))).status === 503, {
        timeoutMs: 60_000,
        description: '/livez to fail',
      });
      expect((await livez(app)).body.dead).toEqual(['logConsumer']);
    }, 120_000);
  });
});
