import { spawn } from 'node:child_process';
import {
  ApiClient,
  AppProcess,
  ReceivedWebhook,
  TestContext,
  createTenantKey,
  readTopic,
  repoRoot,
  runBuiltCli,
  builtCliPath,
  specPayload,
  startApi,
  uniqueId,
  useHarness,
  useTestContext,
  waitFor,
  waitForTriggers,
} from '@triggers/testing';
import { EVENT_LOGS_COLLECTION } from '@triggers/mongo';
import { newLogRecord } from '@triggers/contracts';

/** Runs `triggers <tool> ...` as an operator would in a pod: the built command, against the test context. */
const tool = (ctx: TestContext, name: 'dlq' | 'logs', args: string[]) => runBuiltCli([name, ...args], ctx.env);

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

/**
 * Recovering in bulk, for real: webhooks fail until they are given up (a compressed 48-hour
 * window), then the receiver is fixed and operators and tenant admins bring them back with the
 * dead-letter tool and the bulk redelivery; the stats and the log-topic reader tell what happened.
 */
describe('recovery: dead letters, bulk redelivery, delivery stats, the log reader', () => {
  const ctx = useTestContext({ topics: true });
  // The tenant's endpoint answers 503 until the test fixes it; `ok` keeps what it accepted.
  let failing = true;
  const ok: ReceivedWebhook[] = [];
  const h = useHarness(ctx, {
    reply: (req) => {
      if (failing) return { status: 503, body: 'down for maintenance' };
      ok.push(req);
      return { status: 200, body: 'ok' };
    },
  });
  let api: ApiClient;
  // Not one of the harness's apps: stopped here, or it would outlive the run.
  let apiApp: AppProcess | undefined;
  let other: ApiClient;
  const tenantId = uniqueId('tenant');
  let triggerId: string;
  let eventIds: string[];
  const started = new Date(Date.now() - 1000).toISOString();
  const logs = () =>
    ctx()
      .mongo()
      .then(({ db }) => db.collection<{ tenantId: string; step: string; origin: string; commandId: string }>(EVENT_LOGS_COLLECTION));
  const countSteps = async (step: string, origin?: string) => (await logs()).countDocuments({ tenantId, step, ...(origin ? { origin } : {}) });

  beforeAll(async () => {
    const loopback = { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' };
    const [{ app: started, client }, matcher] = await Promise.all([
      startApi(ctx(), loopback),
      h.start('matcher'),
      h.start('webhook-dispatcher', { ...loopback, WEBHOOK_RETRY_DELAY_MS: '300', WEBHOOK_RETRY_WINDOW_MS: '1000' }),
      h.start('log-sink'),
    ]);
    apiApp = started;
    api = client.withKey(await createTenantKey(ctx(), tenantId));
    other = client.withKey(await createTenantKey(ctx(), uniqueId('tenant')));
    const created = await api.request('POST', '/v1/triggers', {
      name: 'wraps to the CRM',
      eventType: 'agent.wrap',
      enabled: true,
      parameters: { conditions: [], actions: [{ action: 'webhook', parameters: { url: `${h.receiver.url}/crm` } }] },
    });
    expect(created.status).toBe(201);
    triggerId = created.body.id;
    // The matcher knows the trigger before the events arrive.
    await waitForTriggers(matcher, 1);
    const { event } = specPayload('agent-wrap-inbound.json');
    eventIds = await h.driver.events(
      tenantId,
      [0, 1, 2].map(() => event),
    );
    await waitFor(async () => (await countSteps('webhook.gave_up')) === 3, { timeoutMs: 60_000, description: 'three webhooks given up' });
  }, 180_000);

  it('lists, shows and filters the given-up webhooks on the dead-letter topic', async () => {
    const listed = await tool(ctx(), 'dlq', ['list', '--topic', 'webhook', '--json']);
    expect(listed.code).toBe(0);
    const rows = lines(listed.stdout).map(
      (l) => JSON.parse(l) as { key: string; errorClass: string; reason: string; partition: number; offset: string; source: { topic: string; offset: string } },
    );
    const ours = rows.filter((r) => r.key === `${tenantId}/${triggerId}`);
    expect(ours).toHaveLength(3);
    for (const r of ours) {
      expect(r.errorClass).toBe('gave_up');
      expect(r.reason).toMatch(/HTTP 503/);
      // Given up as read: from the retry tier, or from the commands topic when the first attempt already ended the (1 s) window.
      expect([ctx().config.kafka.topics.webhookRetry, ctx().config.kafka.topics.webhookCommands]).toContain(r.source.topic);
    }
    expect(lines((await tool(ctx(), 'dlq', ['list', '--topic', 'webhook', '--json', '--tenant', tenantId])).stdout)).toHaveLength(3);
    expect(lines((await tool(ctx(), 'dlq', ['list', '--topic', 'webhook', '--json', '--tenant', 'nobody'])).stdout)).toHaveLength(0);
    expect(lines((await tool(ctx(), 'dlq', ['list', '--topic', 'webhook', '--json', '--reason', 'no such reason'])).stdout)).toHaveLength(0);
    expect(lines((await tool(ctx(), 'dlq', ['list', '--topic', 'webhook', '--json', '--to', started])).stdout)).toHaveLength(0);
    const human = await tool(ctx(), 'dlq', ['list', '--topic', 'webhook', '--tenant', tenantId]);
    expect(human.stderr).toContain('3 dead letter(s)');
    expect(human.stdout).toContain('gave_up');

    const shown = await tool(ctx(), 'dlq', ['show', '--topic', 'webhook', '--partition', String(ours[0].partition), '--offset', ours[0].offset]);
    expect(shown.code).toBe(0);
    const message = JSON.parse(shown.stdout);
    expect(message.value).toMatchObject({ tenantId, triggerId, url: `${h.receiver.url}/crm` });
    expect(message.headers['dlq-error-class']).toBe('gave_up');
    expect(message.headers['dlq-source-offset']).toBe(ours[0].source.offset);

    const bad = await tool(ctx(), 'dlq', ['list', '--topic', 'webhooks']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--topic must be one of events, webhook, lead, log');
    expect((await tool(ctx(), 'dlq', ['list', '--from', 'yesterday'])).stderr).toContain('--from must be an ISO time');
  }, 120_000);

  it('shows the delivery health: failed attempts, given up, nothing delivered', async () => {
    const stats = await api.request('GET', `/v1/triggers/${triggerId}/stats?window=24h`);
    expect(stats.status).toBe(200);
    const failedAttempts = (await countSteps('webhook.attempt')) + 3;
    expect(stats.body).toMatchObject({
      window: '24h',
      delivered: 0,
      gaveUp: 3,
      failedAttempts,
      waitingRetries: 0,
      successRatio: 0,
      latencyMs: { p50: null, p95: null },
    });
    expect(stats.body.series).toHaveLength(24);
    expect(stats.body.series.reduce((n: number, b: { failed: number }) => n + b.failed, 0)).toBe(failedAttempts);
    expect((await api.request('GET', `/v1/triggers/${triggerId}/stats?window=1y`)).status).toBe(400);
    expect((await other.request('GET', `/v1/triggers/${triggerId}/stats`)).status).toBe(404);
  });
  afterAll(() => apiApp?.stop());

  it('replays a given-up webhook from the dead-letter topic with a fresh window, and it is delivered', async () => {
    failing = false;
    const dry = await tool(ctx(), 'dlq', ['replay', '--topic', 'webhook', '--tenant', tenantId, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('dry run: 3 message(s) would be replayed, 0 skipped');
    expect(ok).toHaveLength(0);

    const listed = lines((await tool(ctx(), 'dlq', ['list', '--topic', 'webhook', '--json', '--tenant', tenantId])).stdout).map((l) => JSON.parse(l));
    const first = listed[0];
    const replayed = await tool(ctx(), 'dlq', ['replay', '--topic', 'webhook', '--partition', String(first.partition), '--offset', first.offset]);
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toContain(`replayed 1 message(s) to ${first.source.topic}`);
    await waitFor(async () => (await countSteps('webhook.delivered')) === 1, { timeoutMs: 30_000, description: 'the replayed webhook delivered' });
    const retries = await readTopic(ctx().kafka, first.source.topic, { expected: 1_000, timeoutMs: 3_000 });
    const back = retries.filter((m) => m.headers?.['dlq-replayed-from']);
    expect(back).toHaveLength(1);
    expect(back[0].headers!['dlq-replayed-from']!.toString()).toBe(`${ctx().config.kafka.topics.deadLetterWebhook}:${first.partition}:${first.offset}`);
    expect(Object.keys(back[0].headers!).filter((k) => k.startsWith('dlq-') && k !== 'dlq-replayed-from')).toEqual([]);
  }, 60_000);

  it('redelivers the rest in bulk, once per command, and skips what was delivered since', async () => {
    const range = { from: started, to: new Date().toISOString() };
    expect((await api.request('POST', `/v1/triggers/${triggerId}/event-logs:redeliver`, { status: 'lost', ...range })).status).toBe(400);
    expect((await api.request('POST', `/v1/triggers/${triggerId}/event-logs:redeliver`, { status: 'failed', from: 'monday', to: range.to })).status).toBe(400);
    expect((await other.request('POST', `/v1/triggers/${triggerId}/event-logs:redeliver`, { status: 'failed', ...range })).status).toBe(404);

    const accepted = await api.request('POST', `/v1/triggers/${triggerId}/event-logs:redeliver`, { status: 'gave_up', ...range });
    expect(accepted.status).toBe(202);
    const { jobId } = accepted.body;
    let job: Record<string, unknown> = {};
    await waitFor(async () => (job = (await api.request('GET', `/v1/jobs/${jobId}`)).body).state === 'done', { description: 'the job done' });
    // One of the three was delivered by the replay: two are redelivered, one skipped.
    expect(job).toMatchObject({ state: 'done', total: 3, redelivered: 2, skipped: 1, leftOut: 0 });
    expect((await other.request('GET', `/v1/jobs/${jobId}`)).status).toBe(404);
    await waitFor(async () => (await countSteps('webhook.delivered', 'bulk')) === 2, { timeoutMs: 30_000, description: 'two bulk deliveries' });

    // Every command has its delivery now: asking again redelivers nothing.
    const again = await api.request('POST', `/v1/triggers/${triggerId}/event-logs:redeliver`, { status: 'failed', ...range });
    await waitFor(async () => (job = (await api.request('GET', `/v1/jobs/${again.body.jobId}`)).body).state === 'done', { description: 'the second job done' });
    expect(job).toMatchObject({ total: 3, redelivered: 0, skipped: 3 });
    expect(ok).toHaveLength(3);
    expect(new Set(ok.map((r) => r.headers['webhook-id'])).size).toBe(3);

    const stats = await api.request('GET', `/v1/triggers/${triggerId}/stats`);
    // Answers are kept a few seconds: wait for one that counts the deliveries.
    await waitFor(async () => (await api.request('GET', `/v1/triggers/${triggerId}/stats`)).body.delivered === 3, {
      timeoutMs: 20_000,
      description: 'stats counting three deliveries',
    });
    expect(stats.status).toBe(200);
    const fresh = (await api.request('GET', `/v1/triggers/${triggerId}/stats`)).body;
    expect(fresh.latencyMs.p50).toEqual(expect.any(Number));
    expect(fresh.latencyMs.p95).toBeGreaterThanOrEqual(fresh.latencyMs.p50);
    expect(fresh.successRatio).toBeCloseTo(3 / (3 + fresh.failedAttempts), 4);
    const list = await api.request('GET', '/v1/triggers');
    expect(list.body.items.find((t: { id: string }) => t.id === triggerId).deliveries24h).toMatchObject({ delivered: 3, gaveUp: 3 });
  }, 90_000);

  it('refuses a second bulk redelivery while one is running for the tenant', async () => {
    const { db } = await ctx().mongo();
    const now = new Date();
    await db
      .collection('jobs')
      .insertOne({ _id: `job_${uniqueId('x')}`, tenantId, triggerId, kind: 'redeliver', state: 'running', createdAt: now, updatedAt: now } as never);
    const refused = await api.request('POST', `/v1/triggers/${triggerId}/event-logs:redeliver`, { status: 'failed', from: started, to: now.toISOString() });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toContain('already running');
    await db.collection('jobs').deleteMany({ tenantId, state: 'running' });
  });

  it('takes over a bulk redelivery whose API stopped, and finishes it', async () => {
    const { db } = await ctx().mongo();
    const jobId = `job_${uniqueId('orphan')}`;
    const stale = new Date(Date.now() - 60_000);
    await db.collection('jobs').insertOne({
      _id: jobId,
      tenantId,
      triggerId,
      kind: 'redeliver',
      state: 'running',
      request: { status: 'gave_up', from: new Date(started), to: new Date() },
      total: null,
      redelivered: 0,
      skipped: 0,
      leftOut: 0,
      cursor: null,
      error: null,
      createdAt: stale,
      updatedAt: stale,
    } as never);
    let job: Record<string, unknown> = {};
    await waitFor(async () => (job = (await api.request('GET', `/v1/jobs/${jobId}`)).body).state === 'done', {
      timeoutMs: 40_000,
      description: 'the orphaned job taken over and done',
    });
    // Everything was delivered by then: the job finds three commands and skips them.
    expect(job).toMatchObject({ total: 3, redelivered: 0, skipped: 3 });
  }, 60_000);

  it('reads the log topic: one tenant, one trigger, one step, as lines or JSON', async () => {
    const all = await tool(ctx(), 'logs', ['tail', '--tenant', tenantId, '--json']);
    expect(all.code).toBe(0);
    const records = lines(all.stdout).map((l) => JSON.parse(l));
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => r.tenantId === tenantId)).toBe(true);
    expect(
      records
        .filter((r) => r.step === 'matched')
        .map((r) => r.eventId)
        .sort(),
    ).toEqual([...eventIds].sort());

    const delivered = await tool(ctx(), 'logs', ['tail', '--tenant', tenantId, '--trigger', triggerId, '--step', 'webhook.delivered']);
    expect(lines(delivered.stdout)).toHaveLength(3);
    expect(lines(delivered.stdout)[0]).toMatch(/webhook\.delivered ok attempt 1 POST http:\/\/127\.0\.0\.1:\d+\/crm → 200/);
    expect(delivered.stderr).toContain('3 record(s)');
    expect(lines((await tool(ctx(), 'logs', ['tail', '--tenant', tenantId, '--json', '--to', started])).stdout)).toHaveLength(0);
    expect((await tool(ctx(), 'logs', ['follow'])).code).toBe(2);
  }, 60_000);

  it('follows the log topic until interrupted', async () => {
    const follower = spawn(process.execPath, [builtCliPath(), 'logs', 'tail', '--tenant', tenantId, '--step', 'lead.moved', '--follow'], {
      cwd: repoRoot(),
      env: { ...process.env, ...ctx().env },
    });
    let out = '';
    let err = '';
    follower.stdout.on('data', (c: Buffer) => (out += c.toString()));
    follower.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => follower.on('exit', resolve));
    // Nothing of that step yet; one arrives while it follows.
    const logId = uniqueId('log');
    const record = newLogRecord({
      logId,
      tenantId,
      triggerId,
      step: 'lead.moved',
      status: 'ok',
      time: Date.now(),
      message: `moved to list 445 (${logId})`,
    });
    await h.driver.logRecords([record]);
    await waitFor(() => out.includes(logId), { timeoutMs: 30_000, description: 'the new record followed' });
    follower.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(lines(out)).toEqual([expect.stringMatching(new RegExp(`lead\\.moved ok moved to list 445 \\(${record.logId}\\)$`))]);
    expect(err).toMatch(/\d+ record\(s\)/);
  }, 60_000);
});
