import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { loadInfraConfig } from '@triggers/config';
import { FERRETDB_STORES, StoreLayoutError, ferretdbServer, ferretdbStoreDir, freePort, startFerretDB } from '@triggers/local-infra';
import { EVENT_LOGS_COLLECTION, MIGRATION_DATABASE, importLeads, importLists, toEventLogDocument } from '@triggers/mongo';
import { ApiClient, AppProcess, createTenantKey, repoRoot, runNpmScript, startApi, uniqueId, useTestContext } from '@triggers/testing';

/** `npm run -s store:migrate -- ...` as an operator runs it. */
const migrate = (args: string[], env: NodeJS.ProcessEnv = {}) => runNpmScript('store:migrate', args, env);

describe('store:migrate copies a store whole, checks it and never runs twice over the same target', () => {
  const ctx = useTestContext({ topics: true });
  const apps: AppProcess[] = [];
  afterAll(async () => Promise.all(apps.map((a) => a.stop())));

  /** What the API answers a tenant for every view it has, from whichever store it runs on. */
  async function answers(client: ApiClient, triggerIds: string[], jobId: string): Promise<unknown> {
    const views: Record<string, unknown> = {};
    const paths = [
      '/v1/triggers?limit=200',
      ...triggerIds.flatMap((id) => [
        `/v1/triggers/${id}`,
        `/v1/triggers/${id}/event-logs?limit=3`,
        `/v1/triggers/${id}/event-logs?status=failed`,
        `/v1/triggers/${id}/stats?window=7d`,
      ]),
      `/v1/jobs/${jobId}`,
      '/v1/event-logs/l2',
    ];
    for (const path of paths) {
      const res = await client.get(path);
      views[path] = { status: res.status, body: res.body };
    }
    // The next page, by the cursor the first one gave.
    const first = views[`/v1/triggers/${triggerIds[0]}/event-logs?limit=3`] as { body: { nextCursor: string } };
    views.nextPage = (await client.get(`/v1/triggers/${triggerIds[0]}/event-logs?limit=3&cursor=${first.body.nextCursor}`)).body;
    // Stats end now and move with the clock: every field but the window's ends.
    for (const [path, view] of Object.entries(views)) {
      if (path.endsWith('/stats?window=7d')) {
        const body = (view as { body: Record<string, unknown> }).body;
        delete body.from;
        delete body.to;
        delete body.series;
      }
    }
    return views;
  }

  it('copies tenants, keys, triggers, leads, lists, jobs and event logs; the API answers the same from the copy', async () => {
    const source = ctx().env.MONGODB_URI;
    const target = source.replace(/\/[^/]*$/, `/${uniqueId('migrated')}`);
    const api = await startApi(ctx());
    apps.push(api.app);
    const key = await createTenantKey(ctx(), 'acme');
    const client = api.client.withKey(key);
    const webhook = (n: number) => ({
      name: `hook ${n}`,
      eventType: 'agent.wrap',
      enabled: true,
      parameters: JSON.stringify({
        conditions: [{ reference: 'campaignId', operator: '=', value: String(n) }],
        actions: [{ action: 'webhook', parameters: { url: `https://hooks.example/${n}` } }],
      }),
    });
    const triggerIds: string[] = [];
    for (const n of [1, 2]) {
      const created = await client.post('/v1/triggers', webhook(n));
      expect(created.status).toBe(201);
      triggerIds.push(created.body.id);
    }
    const { db } = await ctx().mongo();
    await importLists(db, 'acme', [{ listId: 'l-a', campaignId: 'c1', name: 'A' }]);
    await importLeads(db, 'acme', [{ leadId: '1', campaignId: 'c1', listId: 'l-a' }]);
    const now = Date.now();
    const record = (logId: string, step: string, status: 'ok' | 'failed' | 'info', minutesAgo: number) => ({
      logId,
      tenantId: 'acme',
      triggerId: triggerIds[0],
      eventId: `ev-${logId}`,
      eventType: 'agent.wrap',
      commandId: `cmd-${logId}`,
      origin: 'event',
      step,
      status,
      attempt: 1,
      message: step,
      http: null,
      nextDueAt: null,
      traceId: null,
      time: now - minutesAgo * 60_000,
    });
    await db
      .collection(EVENT_LOGS_COLLECTION)
      .insertMany(
        [
          record('l1', 'matched', 'info', 50),
          record('l2', 'webhook.attempt', 'failed', 40),
          record('l3', 'webhook.delivered', 'ok', 30),
          record('l4', 'webhook.gave_up', 'failed', 20),
          record('l5', 'webhook.attempt', 'failed', 10),
        ].map((r) => toEventLogDocument(r)) as never[],
      );
    const job = await client.post(`/v1/triggers/${triggerIds[0]}/event-logs:redeliver`, {
      status: 'failed',
      from: new Date(now - 3_600_000).toISOString(),
      to: new Date(now).toISOString(),
    });
    expect(job.status).toBe(202);
    const before = await answers(client, triggerIds, job.body.jobId);

    const migrated = await migrate(['--from', source, '--to', target]);
    expect(migrated).toMatchObject({ code: 0, stderr: '' });
    expect(migrated.stdout).toMatch(/event_logs: 5 documents, \d+ indexes, checksum [0-9a-f]{16}… on both sides/);
    expect(migrated.stdout).toMatch(/migrated \d+ collection\(s\), [\d,]+ documents; counts and checksums match on both sides/);

    // The copy holds every collection with the same documents and indexes.
    const mongo = await MongoClient.connect(source.replace(/\/[^/]*$/, '/'));
    try {
      const from = mongo.db(new URL(source).pathname.slice(1));
      const to = mongo.db(new URL(target).pathname.slice(1));
      const names = (await from.listCollections().toArray()).map((c) => c.name).sort();
      expect(names).toEqual(expect.arrayContaining(['api_keys', 'event_logs', 'jobs', 'leads', 'lists', 'tenants', 'trigger_revisions', 'triggers']));
      expect((await to.listCollections().toArray()).map((c) => c.name).sort()).toEqual(names);
      for (const name of names) {
        expect({ name, docs: await to.collection(name).find().sort({ _id: 1 }).toArray() }).toEqual({
          name,
          docs: await from.collection(name).find().sort({ _id: 1 }).toArray(),
        });
        const indexNames = async (d: typeof from) => (await d.collection(name).indexes()).map((i) => i.name).sort();
        expect({ name, indexes: await indexNames(to) }).toEqual({ name, indexes: await indexNames(from) });
      }
      expect(await mongo.db(MIGRATION_DATABASE).collection('runs').findOne({ targets: to.databaseName })).toMatchObject({ source });
    } finally {
      await mongo.close();
    }

    const copy = await startApi(ctx(), { MONGODB_URI: target });
    apps.push(copy.app);
    expect(await answers(copy.client.withKey(key), triggerIds, job.body.jobId)).toEqual(before);

    // A second run over the same target refuses and writes nothing.
    const again = await migrate(['--from', source, '--to', target]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: the target was already migrated into/);
    expect((await migrate(['--from', source])).code).toBe(2);
  }, 120_000);

  it("moves the local profile's store of the old layout to the current one, which npm start then serves", async () => {
    const env = { INFRA_DATA_DIR: join(repoRoot(), '.infra/test', uniqueId('local')), INFRA_MONGO_PORT: String(await freePort()) };
    const infra = loadInfraConfig(env, repoRoot(), 'local');
    try {
      // A store of the old layout, written by a FerretDB serving that folder.
      const legacy = await startFerretDB(infra, FERRETDB_STORES.legacy);
      const client = await MongoClient.connect(legacy.uri());
      await client
        .db('triggers')
        .collection('leads')
        .insertMany([{ _id: 'acme/1', listId: 'a' } as never, { _id: 'acme/2', listId: 'b' } as never]);
      await client.db('triggers').collection('leads').createIndex({ listId: 1 });
      await client.close();
      await legacy.stop();

      // npm start refuses to serve an empty store beside it, and says what to run.
      expect(() => ferretdbServer(infra).prepare()).toThrow(StoreLayoutError);
      expect(() => ferretdbServer(infra).prepare()).toThrow(/npm run -s store:migrate/);
      expect(existsSync(ferretdbStoreDir(infra))).toBe(false);

      const migrated = await migrate([], env);
      expect(migrated).toMatchObject({ code: 0, stderr: '' });
      expect(migrated.stdout).toContain('triggers.leads: 2 documents, 1 indexes');
      expect(migrated.stdout).toContain(
        `npm start now serves ${ferretdbStoreDir(infra)}; the old store is kept at ${ferretdbStoreDir(infra, FERRETDB_STORES.legacy)}`,
      );
      expect(existsSync(ferretdbStoreDir(infra, FERRETDB_STORES.legacy))).toBe(true);

      // npm start's server now serves the copy.
      const current = await startFerretDB(infra);
      try {
        const copy = await MongoClient.connect(current.uri());
        expect(await copy.db('triggers').collection('leads').find({ listId: 'b' }).toArray()).toEqual([{ _id: 'acme/2', listId: 'b' }]);
        await copy.close();
      } finally {
        await current.stop();
      }
      const again = await migrate([], env);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/^error: the target was already migrated into/);
    } finally {
      rmSync(infra.dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
