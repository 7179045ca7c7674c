import type { LogRecord, WebhookCommand } from '@triggers/contracts';
import { AppProcess, PipelineDriver, readDecoded, specPayload, startHealthyApp, uniqueId, useTestContext, waitForConsumed } from '@triggers/testing';

const EVENTS = 10_000;
const BATCH = 1_000;

describe('matcher: exactly once under crashes and scaling', () => {
  const ctx = useTestContext({ topics: true });
  let driver: PipelineDriver;
  const running: AppProcess[] = [];
  const wrap = specPayload('agent-wrap-inbound.json').event;

  const startMatcher = async (instanceId: string) => {
    const app = await startHealthyApp(ctx().env, 'matcher', { MATCHER_INSTANCE_ID: instanceId });
    running.push(app);
    return app;
  };

  beforeAll(() => {
    driver = new PipelineDriver(ctx());
  });

  afterAll(async () => {
    await Promise.all(running.map((a) => a.stop()));
    await driver.close();
  });

  /** Produces EVENTS events for `tenant` in batches, calling `midway` after the third batch. */
  async function load(tenant: string, midway: () => Promise<void>): Promise<string[]> {
    const ids: string[] = [];
    for (let b = 0; b < EVENTS / BATCH; b++) {
      ids.push(
        ...(await driver.events(
          tenant,
          Array.from({ length: BATCH }, () => wrap),
        )),
      );
      if (b === 2) await midway();
    }
    return ids;
  }

  /** Exactly one command and one `matched` record per event, counted with read_committed. */
  async function expectExactlyOnce(tenant: string, ids: string[]) {
    await waitForConsumed(ctx(), `${ctx().namespace}-matcher`, ctx().config.kafka.topics['events.agent.wrap'], 120_000);
    const commands = (
      await readDecoded<WebhookCommand>(ctx(), ctx().config.kafka.topics.webhookCommands, {
        expected: EVENTS,
        where: (c) => c.tenantId === tenant,
        quietMs: 3000,
      })
    ).map((m) => m.value);
    expect(commands).toHaveLength(EVENTS);
    expect(new Set(commands.map((c) => c.commandId)).size).toBe(EVENTS);
    expect(new Set(commands.map((c) => c.eventId))).toEqual(new Set(ids));
    const matched = (
      await readDecoded<LogRecord>(ctx(), ctx().config.kafka.topics.log, {
        expected: EVENTS,
        where: (r) => r.tenantId === tenant && r.step === 'matched',
        quietMs: 1000,
      })
    ).map((m) => m.value);
    expect(matched).toHaveLength(EVENTS);
  }

  const everyWrap = (tenant: string) =>
    driver.trigger(tenant, 'all', {
      version: 1,
      name: 'every wrap',
      eventType: 'agent.wrap',
      enabled: true,
      conditions: [],
      actions: [{ action: 'webhook', parameters: { url: 'https://hooks.example/load' } }],
    });

  it('kill -9 in the middle of 10,000 events, then a restart: one command per event, none lost, none doubled', async () => {
    const tenant = uniqueId('crash');
    await everyWrap(tenant);
    const instance = uniqueId('eos');
    const first = await startMatcher(instance);
    const ids = await load(tenant, async () => {
      first.child.kill('SIGKILL');
      await first.exited;
      // The same instance id: its transactional id fences the dead one's open transaction.
      await startMatcher(instance);
    });
    await expectExactlyOnce(tenant, ids);
  });

  it('two instances share the load; one stopped in the middle: the same exactly-once count', async () => {
    const tenant = uniqueId('scale');
    await everyWrap(tenant);
    const a = await startMatcher(uniqueId('eos-a'));
    await startMatcher(uniqueId('eos-b'));
    const ids = await load(tenant, async () => {
      expect(await a.stop()).toBe(0);
    });
    await expectExactlyOnce(tenant, ids);
  });
});
