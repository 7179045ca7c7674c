import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { KafkaMessage } from 'kafkajs';
import { TriggerConfigRecord, WebhookCommand, newLogRecord, sampleEvent } from '@triggers/contracts';
import { EVENT_LOGS_COLLECTION, recordEndpointHealth, toEventLogDocument } from '@triggers/mongo';
import { SecretBox, parseSecretsKey, secretContext } from '@triggers/secrets';
import {
  ApiClient,
  AppProcess,
  createTenantKey,
  readTopic,
  repoRoot,
  specPayload,
  specTriggerParameters,
  startApi,
  useTestContext,
  waitFor,
} from '@triggers/testing';

const run = promisify(execFile);
const SPEC = specTriggerParameters();
const EXAMPLES: [string, string][] = [
  ['move-leads-by-attempts.json', 'outbound.lead.outcome.predictive'],
  ['move-lead-by-wrap-code.json', 'outbound.lead.outcome.preview'],
  ['webhook-on-agent-wrap.json', 'Agent Wrap'],
  ['webhook-on-mpiq-attempt.json', 'mpiq.attempt'],
];
const WEBHOOK_PARAMS = { actions: [{ action: 'webhook', parameters: { url: 'https://hooks.example/a' } }] };

describe('triggers-api', () => {
  const ctx = useTestContext({ topics: true });
  let app: AppProcess;
  let api: ApiClient;
  let acme: ApiClient;
  let globex: ApiClient;

  beforeAll(async () => {
    ({ app, client: api } = await startApi(ctx()));
    acme = api.withKey(await createTenantKey(ctx(), 'acme'));
    globex = api.withKey(await createTenantKey(ctx(), 'globex'));
  });

  afterAll(async () => {
    expect(await app.stop()).toBe(0);
  });

  /** The config topic's messages for one trigger, decoded (null for a tombstone). */
  async function configMessages(tenantId: string, triggerId: string, expected: number) {
    const messages = await readTopic(ctx().kafka, ctx().config.kafka.topics.triggerConfig, { expected: Infinity, timeoutMs: 1500 });
    const mine = messages.filter((m: KafkaMessage) => m.key?.toString() === `${tenantId}/${triggerId}`);
    expect(mine.length).toBeGreaterThanOrEqual(expected);
    return Promise.all(mine.map(async (m) => (m.value ? (await ctx().serde.decode<TriggerConfigRecord>(m.value)).value : null)));
  }

  describe('access', () => {
    it('answers 401 without a key, with a bad key and with a revoked key', async () => {
      expect((await api.get('/v1/triggers')).status).toBe(401);
      expect((await api.withKey('trg_000000000000_nope').get('/v1/triggers')).status).toBe(401);
      const key = await createTenantKey(ctx(), 'acme');
      const keyId = key.split('_')[1];
      expect((await api.withKey(key).get('/v1/triggers')).status).toBe(200);
      await run('npm', ['run', '-s', 'admin', '--', 'keys', 'revoke', keyId], { cwd: repoRoot(), env: { ...process.env, ...ctx().env } });
      const revoked = await api.withKey(key).get('/v1/triggers');
      expect(revoked.status).toBe(401);
      expect(revoked.body.error).toBe('invalid or revoked API key');
    });

    it('answers 403 when the key lacks the permission', async () => {
      const reader = api.withKey(await createTenantKey(ctx(), 'acme', ['triggers:read']));
      expect((await reader.get('/v1/triggers')).status).toBe(200);
      const denied = await reader.post('/v1/triggers', { name: 'x', eventType: 'agent.wrap', parameters: WEBHOOK_PARAMS });
      expect(denied.status).toBe(403);
      expect(denied.body.error).toContain('triggers:write');
    });

    it("never shows one tenant another tenant's trigger or log: 404, as if it did not exist", async () => {
      const created = await acme.post('/v1/triggers', { name: 'mine', eventType: 'agent.wrap', parameters: WEBHOOK_PARAMS });
      const id = created.body.id;
      for (const res of [
        await globex.get(`/v1/triggers/${id}`),
        await globex.put(`/v1/triggers/${id}`, { name: 'theirs', eventType: 'agent.wrap', parameters: WEBHOOK_PARAMS }),
        await globex.patch(`/v1/triggers/${id}`, { enabled: false }),
        await globex.delete(`/v1/triggers/${id}`),
        await globex.get(`/v1/triggers/${id}/event-logs`),
        await globex.post(`/v1/triggers/${id}/evaluate`, { event: sampleEvent('agent.wrap') }),
        await globex.post(`/v1/triggers/${id}/test`),
        await globex.post(`/v1/triggers/${id}/secrets:rotate`),
      ]) {
        expect(res.status).toBe(404);
        expect(res.body.error).toBe('trigger not found');
      }
      expect((await globex.get('/v1/triggers')).body.items.map((t: { id: string }) => t.id)).not.toContain(id);
      expect((await acme.get(`/v1/triggers/${id}`)).body.name).toBe('mine');
    });

    it('the admin CLI creates a tenant and prints only the new key', async () => {
      const env = { ...process.env, ...ctx().env };
      await run('npm', ['run', '-s', 'admin', '--', 'tenants', 'create', 'initech', '--name', 'Initech'], { cwd: repoRoot(), env });
      const { stdout } = await run('npm', ['run', '-s', 'admin', '--', 'keys', 'create', '--tenant', 'initech', '--permissions', 'triggers:read'], {
        cwd: repoRoot(),
        env,
      });
      expect(stdout).toMatch(/^trg_[0-9a-f]{12}_[A-Za-z0-9_-]{43}\n$/);
      expect((await api.withKey(stdout.trim()).get('/v1/triggers')).status).toBe(200);
      const bad = await run('npm', ['run', '-s', 'admin', '--', 'keys', 'create', '--tenant', 'nobody', '--permissions', 'triggers:read'], {
        cwd: repoRoot(),
        env,
      }).catch((e) => e);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('unknown tenant "nobody"');
    });
  });

  describe('triggers', () => {
    it.each(EXAMPLES)('creates the spec example %s from the typed text and from an object', async (file, eventType) => {
      for (const parameters of [SPEC[file].text, SPEC[file].parameters]) {
        const res = await acme.post('/v1/triggers', { name: file, eventType, enabled: true, parameters });
        expect(res.status).toBe(201);
        expect(res.body.warnings).toEqual([]);
        expect(res.body.version).toBe(1);
        const stored = await acme.get(`/v1/triggers/${res.body.id}`);
        expect(stored.body.parameters.actions).toHaveLength(1);
        expect(JSON.stringify(stored.body.parameters.actions)).not.toContain('lead.listId');
        expect(stored.body.webhookSecret).toBeUndefined();
      }
    });

    it.each([
      ['Invalid JSON format', '{"conditions": [], "actions": [}'],
      ['Actions object error', { conditions: [], actions: [] }],
      ['Invalid action parameters', { actions: [{ action: 'webhook', parameters: { url: 'not a url' } }] }],
      ['Error when saving trigger', { actions: [{ action: 'webhok', parameters: { url: 'https://a.example' } }] }],
    ])('answers 400 "%s" with details', async (message, parameters) => {
      const res = await acme.post('/v1/triggers', { name: 'bad', eventType: 'agent.wrap', parameters });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe(message);
      expect(res.body.details.length).toBeGreaterThan(0);
      expect(res.body.requestId).toEqual(expect.any(String));
    });

    it('answers a body that is not JSON with the same error shape', async () => {
      const res = await acme.post('/v1/triggers', '{"name": ');
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('the request body is not valid JSON');
    });

    it('returns the signing secret once, and warnings for suspicious references', async () => {
      const res = await acme.post('/v1/triggers', {
        name: 'warn',
        eventType: 'agent.wrap',
        parameters: { conditions: [{ reference: 'campaignID', operator: '=', value: '1' }], ...WEBHOOK_PARAMS },
      });
      expect(res.status).toBe(201);
      expect(res.body.webhookSecret).toMatch(/^whsec_/);
      expect(res.body.warnings[0]).toContain('did you mean "campaignId"?');
    });

    it('lists with filters and cursor pages', async () => {
      const tenant = api.withKey(await createTenantKey(ctx(), 'lister'));
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await tenant.post('/v1/triggers', {
          name: `t${i}`,
          eventType: i < 3 ? 'agent.wrap' : 'mpiq.attempt',
          enabled: i % 2 === 0,
          parameters: WEBHOOK_PARAMS,
        });
        ids.push(res.body.id);
      }
      const first = await tenant.get('/v1/triggers?limit=2');
      expect(first.body.items.map((t: { id: string }) => t.id)).toEqual(ids.slice(0, 2));
      const second = await tenant.get(`/v1/triggers?limit=2&cursor=${first.body.nextCursor}`);
      expect(second.body.items.map((t: { id: string }) => t.id)).toEqual(ids.slice(2, 4));
      const last = await tenant.get(`/v1/triggers?limit=2&cursor=${second.body.nextCursor}`);
      expect(last.body.items.map((t: { id: string }) => t.id)).toEqual(ids.slice(4));
      expect(last.body.nextCursor).toBeNull();
      const wraps = await tenant.get('/v1/triggers?eventType=Agent%20Wrap&enabled=true');
      expect(wraps.body.items.map((t: { name: string }) => t.name)).toEqual(['t0', 't2']);
      expect((await tenant.get('/v1/triggers?limit=500')).status).toBe(400);
    });

    it('refuses a stale write with 409 (If-Match or a version field)', async () => {
      const created = await acme.post('/v1/triggers', { name: 'v', eventType: 'agent.wrap', parameters: WEBHOOK_PARAMS });
      const id = created.body.id;
      const first = await acme.put(`/v1/triggers/${id}`, { name: 'v2', eventType: 'agent.wrap', parameters: WEBHOOK_PARAMS }, { 'if-match': '"1"' });
      expect(first.status).toBe(200);
      expect(first.body.version).toBe(2);
      const stale = await acme.put(`/v1/triggers/${id}`, { name: 'v3', eventType: 'agent.wrap', parameters: WEBHOOK_PARAMS }, { 'if-match': '"1"' });
      expect(stale.status).toBe(409);
      expect(stale.body.error).toContain('version conflict');
      expect((await acme.patch(`/v1/triggers/${id}`, { enabled: true, version: 1 })).status).toBe(409);
      const patched = await acme.patch(`/v1/triggers/${id}`, { enabled: true, version: 2 });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ name: 'v2', enabled: true, version: 3 });
    });

    it('puts every change on the compacted config topic within a second, and a tombstone on delete', async () => {
      const created = await acme.post('/v1/triggers', {
        name: 'topic',
        eventType: 'mpiq.attempt',
        enabled: true,
        parameters: SPEC['webhook-on-mpiq-attempt.json'].text,
      });
      const id = created.body.id;
      // A reader that is already caught up on the config topic, as a matcher would be.
      const arrivals: { at: number; value: Buffer | null }[] = [];
      const consumer = ctx().kafka.consumer({ groupId: `probe-${id}`, maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic: ctx().config.kafka.topics.triggerConfig, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (message.key?.toString() === `acme/${id}`) arrivals.push({ at: Date.now(), value: message.value });
        },
      });
      try {
        await waitFor(() => arrivals.length === 1, { timeoutMs: 10_000, description: 'the created trigger on the config topic' });
        const changedAt = Date.now();
        expect((await acme.patch(`/v1/triggers/${id}`, { enabled: false })).status).toBe(200);
        await waitFor(() => arrivals.length === 2, { timeoutMs: 10_000, description: 'the change on the config topic' }).catch((err: Error) => {
          throw new Error(`${err.message}\nlast lines of the API's log:\n${app.output().slice(-4000)}`);
        });
        expect(arrivals[1].at - changedAt).toBeLessThan(1000);
        expect((await acme.delete(`/v1/triggers/${id}`)).status).toBe(204);
        await waitFor(() => arrivals.length === 3, { timeoutMs: 5_000, description: 'the tombstone' });
      } finally {
        await consumer.disconnect();
      }
      const records = await Promise.all(arrivals.map(async (a) => (a.value ? (await ctx().serde.decode<TriggerConfigRecord>(a.value)).value : null)));
      expect(records[0]).toMatchObject({ tenantId: 'acme', triggerId: id, version: 1, eventType: 'mpiq.attempt', enabled: true });
      expect(records[0]!.conditions).toEqual([{ reference: 'campaignId', operator: 'in', value: '215, 223' }]);
      expect(records[0]!.webhookSecrets).toHaveLength(1);
      expect(records[1]).toMatchObject({ version: 2, enabled: false });
      expect(records[2]).toBeNull();
      expect((await acme.get(`/v1/triggers/${id}`)).status).toBe(404);
      const { db } = await ctx().mongo();
      expect(await db.collection('triggers').findOne({ _id: id as never })).toBeNull();
    });

    it('rotates the signing secret, keeping the old one valid for the overlap', async () => {
      const created = await acme.post('/v1/triggers', { name: 'rot', eventType: 'agent.wrap', parameters: WEBHOOK_PARAMS });
      const res = await acme.post(`/v1/triggers/${created.body.id}/secrets:rotate`);
      expect(res.status).toBe(200);
      expect(res.body.webhookSecret).toMatch(/^whsec_/);
      expect(res.body.webhookSecret).not.toBe(created.body.webhookSecret);
      const [old, fresh] = res.body.trigger.webhookSecrets;
      const overlap = Date.parse(old.notAfter) - Date.now();
      expect(overlap).toBeGreaterThan(23 * 3600_000);
      expect(overlap).toBeLessThanOrEqual(24 * 3600_000);
      expect(fresh.notAfter).toBeNull();
      const records = await configMessages('acme', created.body.id, 2);
      // On the topic they are sealed; opened with SECRETS_KEY they are the two the API showed once.
      const box = new SecretBox({ current: parseSecretsKey(ctx().env.SECRETS_KEY), previous: [] });
      const last = records[records.length - 1]!;
      for (const s of last.webhookSecrets) expect(s.secret).toMatch(/^enc:v1:/);
      expect(last.webhookSecrets.map((s) => box.open(s.secret, secretContext('acme', created.body.id, s.id)))).toEqual([
        created.body.webhookSecret,
        res.body.webhookSecret,
      ]);
    });
  });

  describe('trying triggers out', () => {
    it('evaluates an unsaved trigger condition by condition, with no side effects', async () => {
      const mpiq = specPayload('mpiq-attempt.json').event;
      const trigger = { eventType: 'mpiq.attempt', parameters: SPEC['webhook-on-mpiq-attempt.json'].text };
      const miss = await acme.post('/v1/triggers/evaluate', { trigger, event: mpiq });
      expect(miss.status).toBe(200);
      expect(miss.body.matched).toBe(false);
      expect(miss.body.conditions[0]).toMatchObject({ reference: 'campaignId', resolvedReference: 'campaign_id', actual: '20183', passed: false });
      const hit = await acme.post('/v1/triggers/evaluate', { trigger, event: { ...mpiq, payload: { ...mpiq.payload, campaign_id: '223' } } });
      expect(hit.body.matched).toBe(true);
      expect(hit.body.actions).toHaveLength(1);
      const bad = await acme.post('/v1/triggers/evaluate', { trigger: { eventType: 'mpiq.attempt', parameters: '' }, event: mpiq });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toBe('Invalid JSON format');
    });

    it('evaluates a stored trigger', async () => {
      const created = await acme.post('/v1/triggers', {
        name: 'eval',
        eventType: 'agent.wrap',
        enabled: true,
        parameters: SPEC['webhook-on-agent-wrap.json'].parameters,
      });
      const event = specPayload('agent-wrap-inbound.json').event;
      const res = await acme.post(`/v1/triggers/${created.body.id}/evaluate`, { event: { ...event, payload: { ...event.payload, campaignId: '215' } } });
      expect(res.body).toMatchObject({ matched: true, enabled: true, eventTypeMatches: true });
      expect((await acme.post(`/v1/triggers/${created.body.id}/evaluate`, { event: 'nope' })).status).toBe(400);
    });

    it("sends a test webhook with the sample payload through the command topic, in the action's retry window", async () => {
      const created = await acme.post('/v1/triggers', {
        name: 'test',
        eventType: 'inbound.queue.abandon',
        parameters: { actions: [{ action: 'webhook', parameters: { url: 'https://hooks.example/a', retryWindow: 'PT30M' } }] },
      });
      const res = await acme.post(`/v1/triggers/${created.body.id}/test`);
      expect(res.status).toBe(202);
      expect(res.body.commands).toHaveLength(1);
      const commands = await readTopic(ctx().kafka, ctx().config.kafka.topics.webhookCommands, { expected: Infinity, timeoutMs: 1500 });
      const decoded = await Promise.all(commands.map(async (m) => (await ctx().serde.decode<WebhookCommand>(m.value)).value));
      const mine = decoded.find((c) => c.commandId === res.body.commands[0].commandId)!;
      expect(mine).toMatchObject({
        origin: 'test',
        url: 'https://hooks.example/a',
        attempt: 1,
        tenantId: 'acme',
        triggerId: created.body.id,
        retryWindowMinutes: 30,
      });
      expect(mine.body).toBe(JSON.stringify(sampleEvent('inbound.queue.abandon')));
      // The dispatcher's 48-hour window counts from the first attempt the command carries (retry-policy.spec).
      expect(Date.now() - mine.firstAttemptAt).toBeLessThan(5 * 60_000);
      const lead = await acme.post('/v1/triggers', { name: 'lead', eventType: 'agent.wrap', parameters: SPEC['move-lead-by-wrap-code.json'].parameters });
      expect((await acme.post(`/v1/triggers/${lead.body.id}/test`)).status).toBe(409);
    });
  });

  describe('endpoint health and notifications', () => {
    it("sets, shows and clears the tenant's notifications URL, refusing what is not an allowed http(s) URL", async () => {
      expect((await acme.get('/v1/tenant/notifications')).body).toEqual({ url: null });
      for (const body of [
        {},
        { url: 42 },
        { url: 'not a url' },
        { url: 'ftp://hooks.example/n' },
        { url: 'https://user:pw@hooks.example/n' },
        { url: 'http://10.0.0.1/n' },
      ]) {
        const res = await acme.put('/v1/tenant/notifications', body);
        expect(res.status).toBe(400);
        expect(res.body.details[0]).toMatchObject({ path: 'url' });
      }
      const set = await acme.put('/v1/tenant/notifications', { url: 'https://hooks.example/notifications' });
      expect(set.status).toBe(200);
      expect(set.body).toEqual({ url: 'https://hooks.example/notifications', warnings: [] });
      expect((await acme.get('/v1/tenant/notifications')).body).toEqual({ url: 'https://hooks.example/notifications' });
      // Another tenant's setting is its own.
      expect((await globex.get('/v1/tenant/notifications')).body).toEqual({ url: null });
      const readOnly = api.withKey(await createTenantKey(ctx(), 'acme', ['triggers:read']));
      expect((await readOnly.put('/v1/tenant/notifications', { url: null })).status).toBe(403);
      expect((await acme.put('/v1/tenant/notifications', { url: null })).body).toEqual({ url: null, warnings: [] });
      expect((await acme.get('/v1/tenant/notifications')).body).toEqual({ url: null });
    });

    it("shows a trigger's endpoint health in the trigger and the list, as the log's transitions left it, to its own tenant only", async () => {
      const created = await acme.post('/v1/triggers', { name: 'health', eventType: 'agent.wrap', parameters: WEBHOOK_PARAMS });
      const id = created.body.id as string;
      const healthy = await acme.get(`/v1/triggers/${id}`);
      expect(healthy.body.endpointHealth).toEqual({ state: 'healthy', since: null, message: null });
      // Its ETag is its version, for If-Match; the live health beside it is never answered 304 from a cache.
      expect(healthy.headers.get('etag')).toBe('"1"');
      expect(healthy.headers.get('cache-control')).toBe('no-store');
      const at = Date.now();
      const { db } = await ctx().mongo();
      const failing = (tenantId: string) =>
        newLogRecord({
          logId: `l-${tenantId}-${id}`,
          tenantId,
          triggerId: id,
          step: 'endpoint.failing',
          status: 'failed',
          time: at,
          message: 'endpoint failing: HTTP 503',
        });
      await recordEndpointHealth(db, [failing('globex')]);
      expect((await acme.get(`/v1/triggers/${id}`)).body.endpointHealth.state).toBe('healthy');
      await recordEndpointHealth(db, [failing('acme')]);
      const expected = { state: 'failing', since: new Date(at).toISOString(), message: 'endpoint failing: HTTP 503' };
      const failingNow = await acme.get(`/v1/triggers/${id}`, { 'if-none-match': '"1"' });
      expect(failingNow.status).toBe(200);
      expect(failingNow.body.endpointHealth).toEqual(expected);
      const list = await acme.get('/v1/triggers?limit=200');
      expect(list.body.items.find((t: { id: string }) => t.id === id).endpointHealth).toEqual(expected);
    });
  });

  describe('Event Logs', () => {
    it("lists a trigger's log newest first, filters, pages, shows one in full and redelivers it in the trigger's retry window", async () => {
      const created = await acme.post('/v1/triggers', {
        name: 'logs',
        eventType: 'agent.wrap',
        parameters: { actions: [{ action: 'webhook', parameters: { url: 'https://hooks.example/a', retryWindow: 'PT2H' } }] },
      });
      const triggerId = created.body.id;
      const base = {
        tenantId: 'acme',
        triggerId,
        eventId: 'ev-1',
        eventType: 'agent.wrap',
        commandId: 'cmd_1',
        origin: 'event',
        nextDueAt: null,
        traceId: null,
      };
      const http = {
        method: 'POST',
        url: 'https://hooks.example/a',
        requestHeaders: { 'content-type': 'application/json', 'webhook-signature': 'v1,abc', 'webhook-id': 'cmd_1' },
        requestBody: '{"type":"agent.wrap","payload":{}}',
        responseStatus: 500,
        responseHeaders: { 'set-cookie': 'session=1' },
        responseBody: 'oops',
        responseTruncated: false,
        durationMs: 12,
        errorClass: 'http.status',
      };
      const t0 = Date.parse('2026-01-01T00:00:00Z');
      const records = [
        { ...base, logId: 'l1', step: 'matched', status: 'info' as const, time: t0, attempt: null, message: 'matched', http: null },
        { ...base, logId: 'l2', step: 'webhook.attempt', status: 'failed' as const, time: t0 + 1000, attempt: 1, message: 'HTTP 500', http },
        {
          ...base,
          logId: 'l3',
          step: 'webhook.retry_scheduled',
          status: 'info' as const,
          time: t0 + 2000,
          attempt: 1,
          message: 'retry',
          http: null,
          nextDueAt: t0 + 602_000,
        },
        { ...base, tenantId: 'globex', logId: 'g1', step: 'matched', status: 'info' as const, time: t0, attempt: null, message: 'other tenant', http: null },
      ];
      const { db } = await ctx().mongo();
      await db.collection(EVENT_LOGS_COLLECTION).insertMany(records.map((r) => toEventLogDocument(r)) as never[]);

      const all = await acme.get(`/v1/triggers/${triggerId}/event-logs`);
      expect(all.body.items.map((r: { logId: string }) => r.logId)).toEqual(['l3', 'l2', 'l1']);
      expect(all.body.items[0].nextDueAt).toBe(new Date(t0 + 602_000).toISOString());
      expect(all.body.items[1]).toMatchObject({ responseStatus: 500, durationMs: 12, errorClass: 'http.status', attempt: 1 });
      const failed = await acme.get(`/v1/triggers/${triggerId}/event-logs?status=failed`);
      expect(failed.body.items.map((r: { logId: string }) => r.logId)).toEqual(['l2']);
      const page1 = await acme.get(`/v1/triggers/${triggerId}/event-logs?limit=2`);
      const page2 = await acme.get(`/v1/triggers/${triggerId}/event-logs?limit=2&cursor=${page1.body.nextCursor}`);
      expect([...page1.body.items, ...page2.body.items].map((r: { logId: string }) => r.logId)).toEqual(['l3', 'l2', 'l1']);
      const window = await acme.get(`/v1/triggers/${triggerId}/event-logs?from=${new Date(t0 + 500).toISOString()}&to=${new Date(t0 + 1500).toISOString()}`);
      expect(window.body.items.map((r: { logId: string }) => r.logId)).toEqual(['l2']);

      const one = await acme.get('/v1/event-logs/l2');
      expect(one.body.http.requestHeaders['webhook-signature']).toBe('[redacted]');
      expect(one.body.http.requestHeaders['webhook-id']).toBe('cmd_1');
      expect(one.body.http.responseHeaders['set-cookie']).toBe('[redacted]');
      expect(one.body.http.requestBody).toBe(http.requestBody);
      expect((await globex.get('/v1/event-logs/l2')).status).toBe(404);
      expect((await acme.get('/v1/event-logs/g1')).status).toBe(404);

      const redelivered = await acme.post('/v1/event-logs/l2/redeliver');
      expect(redelivered.status).toBe(202);
      expect((await acme.post('/v1/event-logs/l1/redeliver')).status).toBe(409);
      const commands = await readTopic(ctx().kafka, ctx().config.kafka.topics.webhookCommands, { expected: Infinity, timeoutMs: 1500 });
      const decoded = await Promise.all(commands.map(async (m) => (await ctx().serde.decode<WebhookCommand>(m.value)).value));
      expect(decoded.filter((c) => c.origin === 'manual' && c.commandId === 'cmd_1')).toEqual([
        expect.objectContaining({ url: http.url, body: http.requestBody, attempt: 1, triggerId, retryWindowMinutes: 120 }),
      ]);
    });
  });

  describe('the document', () => {
    it('serves OpenAPI at /docs', async () => {
      const doc = await api.get('/docs/openapi.json');
      expect(doc.status).toBe(200);
      expect(Object.keys(doc.body.paths)).toEqual(
        expect.arrayContaining(['/v1/triggers', '/v1/triggers/{id}', '/v1/triggers/{id}/event-logs', '/v1/event-logs/{logId}/redeliver']),
      );
      const page = await fetch(`${api.baseUrl}/docs`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('swagger');
    });
  });
});
