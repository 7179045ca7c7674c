import { EVENT_TYPE_IDS, TopicKey, eventTopicKeyOf, logIdFor, newLogRecord } from '@triggers/contracts';
import { EVENT_LOGS_COLLECTION } from '@triggers/mongo';
import { AppProcess, PipelineDriver, startHealthyApp, startWebhookReceiver, testWebhookCommand, uniqueId, useTestContext, waitFor } from '@triggers/testing';

type Assignment = Record<string, number[]>;

/** The partitions an instance reports owning in /healthz (null while it joins). */
async function assignedOf(app: AppProcess): Promise<Assignment | null> {
  const health = (await (await fetch(`http://127.0.0.1:${app.port}/healthz`)).json()) as {
    checks: Record<string, { detail?: { assigned?: Assignment | null } }>;
  };
  // Every consumer group of the app (the dispatcher has two: deliveries, and endpoint health over the log).
  const consumers = Object.values(health.checks).filter((c) => c.detail && 'assigned' in c.detail);
  if (consumers.length === 0 || consumers.some((c) => !c.detail?.assigned)) return null;
  return Object.assign({}, ...consumers.map((c) => c.detail!.assigned)) as Assignment;
}

const partitionsOf = (a: Assignment | null) => Object.entries(a ?? {}).flatMap(([topic, ps]) => ps.map((p) => `${topic}:${p}`));

/**
 * Two instances of each consumer app in one group share its partitions, each reporting what it
 * owns; when one stops, the other takes all of them, and work sent meanwhile is not lost.
 */
describe('scaling the consumers', () => {
  const ctx = useTestContext({ topics: true });
  let driver: PipelineDriver;
  const running: AppProcess[] = [];

  beforeAll(() => {
    driver = new PipelineDriver(ctx());
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((a) => a.stop()));
  });

  afterAll(() => driver.close());

  const CONSUMED: Record<string, TopicKey[]> = {
    matcher: EVENT_TYPE_IDS.map(eventTopicKeyOf),
    'webhook-dispatcher': ['webhookCommands', 'webhookRetry', 'log'],
    'lead-mover': ['leadCommands'],
    'log-sink': ['log'],
  };

  /** Starts two instances, checks they split the partitions, stops one, checks the other took all. */
  async function shareThenFailOver(app: string, env: Record<string, string> = {}, between?: () => Promise<void>): Promise<AppProcess> {
    const [a, b] = await Promise.all([startHealthyApp(ctx().env, app, env), startHealthyApp(ctx().env, app, env)]);
    running.push(a, b);
    const all = CONSUMED[app].flatMap((key) => [0, 1, 2].map((p) => `${ctx().config.kafka.topics[key]}:${p}`)).sort();
    await waitFor(
      async () => {
        const [pa, pb] = [partitionsOf(await assignedOf(a)), partitionsOf(await assignedOf(b))];
        // Both own some, none is owned twice, and together they own all.
        return pa.length > 0 && pb.length > 0 && [...pa, ...pb].sort().join() === all.join();
      },
      { timeoutMs: 30_000, description: `two ${app} instances sharing ${all.length} partitions` },
    );
    await between?.();
    expect(await b.stop()).toBe(0);
    running.splice(running.indexOf(b), 1);
    await waitFor(
      async () =>
        partitionsOf(await assignedOf(a))
          .sort()
          .join() === all.join(),
      { timeoutMs: 30_000, description: `the remaining ${app} owning all partitions` },
    );
    return a;
  }

  it('matcher and lead-mover: two instances share the partitions; one takes all when the other stops', async () => {
    await shareThenFailOver('matcher', { MATCHER_INSTANCE_ID: uniqueId('m') });
    await Promise.all(running.splice(0).map((a) => a.stop()));
    await shareThenFailOver('lead-mover');
  });

  it('log-sink: records sent before and after one of two instances stops are all stored, once', async () => {
    const tenantId = uniqueId('tenant');
    const record = (i: number) =>
      newLogRecord({ logId: logIdFor(tenantId, i), tenantId, triggerId: `t${i % 7}`, step: 'matched', status: 'info', time: Date.now() });
    const publish = (from: number, to: number) => driver.logRecords(Array.from({ length: to - from }, (_, k) => record(from + k)));
    await shareThenFailOver('log-sink', {}, () => publish(0, 500));
    await publish(500, 1000);
    const { db } = await ctx().mongo();
    await waitFor(async () => (await db.collection(EVENT_LOGS_COLLECTION).countDocuments({ tenantId })) === 1000, {
      timeoutMs: 30_000,
      description: '1,000 event logs',
    });
  });

  it('webhook-dispatcher: commands sent before and after one of two instances stops are all delivered', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const { tenantId, triggerId } = await driver.webhookTrigger(receiver.url);
      const commands = Array.from({ length: 600 }, (_, i) => testWebhookCommand({ tenantId, triggerId, eventId: `evt-${i}`, url: `${receiver.url}/${i}` }));
      const send = (from: number, to: number) => Promise.all(commands.slice(from, to).map((c) => driver.webhookCommands([c], c.commandId)));
      await shareThenFailOver('webhook-dispatcher', { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' }, () => send(0, 300).then(() => undefined));
      await send(300, 600);
      await waitFor(() => receiver.ids().size === 600, { timeoutMs: 30_000, description: `600 webhook-ids (have ${receiver.ids().size})` });
    } finally {
      await receiver.close();
    }
  });
});
