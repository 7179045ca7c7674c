/**
 * The store at a contact centre's volumes (`npm run bench -- store`): event-log records and as many
 * leads over 20 tenants and 200 triggers, grown to 10,000, 100,000 and 1,000,000
 * (BENCH_STORE_SIZES), and at each size the lookups the apps make, through the apps' own code:
 * the Event Logs page with each filter the API offers, its next page, the 24-hour and 7-day
 * delivery stats, the list's columns for a tenant's triggers, a bulk redelivery's selection, a lead read and the conditional lead move. Each
 * gives p50/p99 and the store's CPU per operation. It runs against the embedded default (the test
 * profile's FerretDB) and, when MONGODB_URI is given, against that server too.
 *
 * A lookup that scans takes ten times longer at ten times the data: one whose figure at the last
 * size, times the growth, would pass BENCH_STORE_SKIP_MS (30 s) is not run at the next size and
 * says so, and a size none of whose lookups would run is not loaded, so the bench finishes on the
 * store that scans as on the one that indexes.
 */
import { randomUUID } from 'node:crypto';
import { leadKey } from '@triggers/contracts';
import {
  LEADS_COLLECTION,
  LeadDocument,
  MongoHandle,
  connectMongo,
  ensureEventLogIndexes,
  ensureLeadIndexes,
  ensureTriggerStatsIndexes,
  eventLogsCollection,
  failedRecordsIn,
  type PagePosition,
  triggerLogsPage,
} from '@triggers/mongo';
import { eventLogHistory, growEventLogHistory, uniqueId } from '@triggers/testing';
import { MongoLeadsStore } from '../apps/lead-mover/src/services/mongo-leads.store';
import { SELECTION_STEPS } from '../apps/triggers-api/src/redelivery/bulk-redelivery.service';
import { DeliveryStatsService } from '../apps/triggers-api/src/stats/delivery-stats.service';
import { percentile, report } from './bench-report';
import { CpuMeter } from './cpu-meter';
import { benchContext } from './infra';

const QUICK = Boolean(process.env.BENCH_QUICK);
/** BENCH_QUICK: two small sizes and five samples, a minute or so (CI runs every bench that way). */
const SIZES = (process.env.BENCH_STORE_SIZES ?? (QUICK ? '1000,5000' : '10000,100000,1000000')).split(',').map(Number);
const TENANTS = 20;
const TRIGGERS_PER_TENANT = 10;
/** Samples per lookup and size, each on another tenant and trigger (no more once a lookup has taken OP_BUDGET_MS; at least one). */
const SAMPLES = Number(process.env.BENCH_STORE_SAMPLES ?? (QUICK ? 5 : 100));
const OP_BUDGET_MS = 20_000;
const SKIP_MS = Number(process.env.BENCH_STORE_SKIP_MS ?? 30_000);
const PAGE = 50;
const DAY = 86_400_000;
const LOAD_BATCH = 1_000;

interface Lookup {
  name: string;
  /** What it reads: event logs or leads (a size loads only what its lookups need). */
  reads: 'logs' | 'leads';
  /** What a sample needs first, not timed (the cursor a next page starts from). */
  prepare?(s: Store, sample: number): Promise<unknown>;
  run(s: Store, sample: number, prepared: unknown): Promise<unknown>;
}

interface Store {
  mongo: MongoHandle;
  leadsStore: MongoLeadsStore;
  now: number;
  /** Leads loaded per tenant (numbered per tenant from 0). */
  leadsPerTenant: number;
}

const pair = (sample: number) => ({ tenantId: `tenant-${sample % TENANTS}`, triggerId: `trigger-${(sample * 7) % TRIGGERS_PER_TENANT}` });

const LOOKUPS: Lookup[] = [
  {
    name: 'eventLogsPage',
    reads: 'logs',
    run: (s, i) => triggerLogsPage(eventLogsCollection(s.mongo.db), pair(i).tenantId, pair(i).triggerId, {}, PAGE + 1),
  },
  {
    name: 'eventLogsPageFailed',
    reads: 'logs',
    run: (s, i) => triggerLogsPage(eventLogsCollection(s.mongo.db), pair(i).tenantId, pair(i).triggerId, { status: 'failed' }, PAGE + 1),
  },
  {
    name: 'eventLogsPageLast24h',
    reads: 'logs',
    run: (s, i) =>
      triggerLogsPage(eventLogsCollection(s.mongo.db), pair(i).tenantId, pair(i).triggerId, { from: new Date(s.now - DAY), to: new Date(s.now) }, PAGE + 1),
  },
  {
    name: 'eventLogsNextPage',
    reads: 'logs',
    prepare: async (s, i) => {
      const first = await triggerLogsPage(eventLogsCollection(s.mongo.db), pair(i).tenantId, pair(i).triggerId, {}, PAGE);
      const last = first[first.length - 1];
      return last && { time: last.time, id: last._id };
    },
    run: (s, i, after) => triggerLogsPage(eventLogsCollection(s.mongo.db), pair(i).tenantId, pair(i).triggerId, { after: after as PagePosition }, PAGE + 1),
  },
  // A fresh service per sample: its answers are cached for a few seconds per trigger.
  { name: 'stats24h', reads: 'logs', run: (s, i) => new DeliveryStatsService(s.mongo).stats(pair(i).tenantId, pair(i).triggerId, '24h') },
  { name: 'stats7d', reads: 'logs', run: (s, i) => new DeliveryStatsService(s.mongo).stats(pair(i).tenantId, pair(i).triggerId, '7d') },
  // The list's columns for a page of a tenant's triggers (all ten).
  {
    name: 'listColumns',
    reads: 'logs',
    run: (s, i) =>
      new DeliveryStatsService(s.mongo).health(
        pair(i).tenantId,
        Array.from({ length: TRIGGERS_PER_TENANT }, (_, k) => `trigger-${k}`),
      ),
  },
  {
    name: 'bulkRedeliverySelection',
    reads: 'logs',
    run: async (s, i) => {
      let n = 0;
      const q = { ...pair(i), from: new Date(s.now - DAY), to: new Date(s.now), steps: SELECTION_STEPS.failed };
      for await (const d of failedRecordsIn(eventLogsCollection(s.mongo.db), q)) n += d.commandId ? 1 : 0;
      return n;
    },
  },
  { name: 'leadFindOne', reads: 'leads', run: (s, i) => s.leadsStore.getLead(pair(i).tenantId, leadOf(s, i)) },
  {
    name: 'leadMove',
    reads: 'leads',
    run: async (s, i) => {
      const leadId = leadOf(s, i);
      const lead = await s.leadsStore.getLead(pair(i).tenantId, leadId);
      const to = lead?.listId === 'list-a' ? 'list-b' : 'list-a';
      const result = await s.leadsStore.moveLead(pair(i).tenantId, leadId, lead?.listId ?? 'list-a', to, randomUUID());
      if (result !== 'moved') throw new Error(`lead ${leadId} was not moved: ${result}`);
    },
  },
];

/** A lead of the sample's tenant among those loaded. */
const leadOf = (s: Store, sample: number) => `lead-${(sample * 7919) % s.leadsPerTenant}`;

type Figure = { samples: number; p50Ms: number; p99Ms: number; storeCpuMicrosecondsPerOp?: number } | { skipped: string } | { error: string };

export async function storeBenchmark(): Promise<void> {
  const given = process.env.MONGODB_URI;
  const { ctx, serverPids, stopInfra } = await benchContext();
  try {
    const stores: Record<string, Record<string, Record<string, Figure>>> = {};
    stores.embedded = await measureStore(
      'embedded FerretDB (the test profile)',
      `${ctx.config.mongodbUri.replace(/\/[^/]*$/, '')}/${uniqueId('store')}`,
      serverPids.ferretdb,
    );
    if (given)
      stores.given = await measureStore(
        `MONGODB_URI (${given.replace(/\/\/[^@/]*@/, '//')})`,
        given.replace(/\/([^/?]*)(\?|$)/, `/${uniqueId('store')}$2`),
        undefined,
      );
    // The slowest of the lookups measured at a size (null when every one was skipped or failed).
    const p99 = (lookups: string[]) =>
      Object.fromEntries(
        SIZES.map((size) => {
          const measured = lookups.map((l) => figureP99(stores.embedded[size]?.[l])).filter(Number.isFinite);
          return [size, measured.length > 0 ? Math.max(...measured) : null];
        }),
      );
    report('store', {
      tenants: TENANTS,
      triggers: TENANTS * TRIGGERS_PER_TENANT,
      sizes: SIZES,
      eventLogsPageP99Ms: p99(['eventLogsPage', 'eventLogsPageFailed', 'eventLogsPageLast24h', 'eventLogsNextPage']),
      statsP99Ms: p99(['stats24h', 'stats7d']),
      stats24hP99Ms: p99(['stats24h']),
      listColumnsP99Ms: p99(['listColumns']),
      leadMoveP99Ms: p99(['leadMove']),
      stores,
    });
  } finally {
    await stopInfra();
  }
}

function figureP99(f: Figure | undefined): number {
  return f && 'p99Ms' in f ? f.p99Ms : NaN;
}

/** Grows one database size by size and measures every lookup at each; drops it at the end. */
async function measureStore(label: string, uri: string, pid: number | undefined): Promise<Record<string, Record<string, Figure>>> {
  process.stderr.write(`store: ${label}\n`);
  const mongo = await connectMongo(uri);
  const out: Record<string, Record<string, Figure>> = {};
  try {
    const logs = eventLogsCollection(mongo.db);
    await ensureEventLogIndexes(logs);
    await ensureTriggerStatsIndexes(mongo.db);
    await ensureLeadIndexes(mongo.db);
    const store: Store = { mongo, leadsStore: new MongoLeadsStore(mongo.db), now: Date.now(), leadsPerTenant: 0 };
    const loaded = { leads: 0 };
    // Records over 20 tenants of 10 triggers each, eight days back from now: the 24-hour stats see an eighth of a trigger's, the 7-day ones most.
    const history = eventLogHistory(
      mongo,
      Array.from({ length: TENANTS * TRIGGERS_PER_TENANT }, (_, j) => ({ tenantId: `tenant-${j % TENANTS}`, triggerId: `trigger-${Math.floor(j / TENANTS)}` })),
      { now: store.now },
    );
    let previous: { size: number; figures: Record<string, Figure> } | undefined;
    for (const size of SIZES) {
      const figures: Record<string, Figure> = {};
      const toRun = LOOKUPS.filter((l) => {
        const last = previous?.figures[l.name];
        if (last && 'skipped' in last) figures[l.name] = { skipped: last.skipped };
        else if (last && 'error' in last) figures[l.name] = { skipped: `failed at ${previous!.size}` };
        else if (last && last.p50Ms * (size / previous!.size) > SKIP_MS)
          figures[l.name] = {
            skipped: `p50 ${last.p50Ms} ms at ${previous!.size} would be about ${Math.round((last.p50Ms * size) / previous!.size / 1000)} s at ${size}`,
          };
        return !(l.name in figures);
      });
      if (toRun.some((l) => l.reads === 'logs') && size > history.records) {
        const started = Date.now();
        await growEventLogHistory(history, size);
        process.stderr.write(`  event logs and their stats grown to ${size} in ${Math.round((Date.now() - started) / 1000)} s\n`);
      }
      if (toRun.some((l) => l.reads === 'leads')) loaded.leads = await loadLeads(mongo, loaded.leads, size);
      store.leadsPerTenant = Math.floor(loaded.leads / TENANTS);
      for (const lookup of toRun) {
        figures[lookup.name] = await measure(store, lookup, pid);
        process.stderr.write(`  ${size} ${lookup.name}: ${JSON.stringify(figures[lookup.name])}\n`);
      }
      for (const [name, f] of Object.entries(figures)) if ('skipped' in f) process.stderr.write(`  ${size} ${name}: skipped (${f.skipped})\n`);
      out[size] = figures;
      previous = { size, figures };
    }
  } finally {
    await mongo.db.dropDatabase().catch(() => undefined);
    await mongo.client.close();
  }
  return out;
}

async function measure(store: Store, lookup: Lookup, pid: number | undefined): Promise<Figure> {
  let cpu: number | undefined;
  const times: number[] = [];
  try {
    const prepared: unknown[] = [];
    for (let i = 0; lookup.prepare && i < SAMPLES; i++) prepared.push(await lookup.prepare(store, i));
    const meter = new CpuMeter({ store: pid });
    const started = performance.now();
    for (let i = 0; i < SAMPLES && (i === 0 || performance.now() - started < OP_BUDGET_MS); i++) {
      const t = performance.now();
      await lookup.run(store, i, prepared[i]);
      times.push(performance.now() - t);
    }
    cpu = meter.perUnit(times.length).store;
  } catch (err) {
    return { error: (err as Error).message };
  }
  times.sort((a, b) => a - b);
  return {
    samples: times.length,
    p50Ms: +percentile(times, 50).toFixed(1),
    p99Ms: +percentile(times, 99).toFixed(1),
    ...(cpu === undefined ? {} : { storeCpuMicrosecondsPerOp: cpu }),
  };
}

/** Leads from `from` up to `to`, spread over the tenants, each on one of two lists of a campaign. */
async function loadLeads(mongo: MongoHandle, from: number, to: number): Promise<number> {
  const leads = mongo.db.collection<LeadDocument>(LEADS_COLLECTION);
  const started = Date.now();
  const perTenantFrom = Math.floor(from / TENANTS);
  const perTenantTo = Math.floor(to / TENANTS);
  const updatedAt = new Date();
  const docs: LeadDocument[] = [];
  const flush = async () => {
    if (docs.length > 0) await leads.insertMany(docs.splice(0), { ordered: false });
  };
  for (let n = perTenantFrom; n < perTenantTo; n++) {
    for (let t = 0; t < TENANTS; t++) {
      const tenantId = `tenant-${t}`;
      const leadId = `lead-${n}`;
      docs.push({
        _id: leadKey(tenantId, leadId),
        tenantId,
        leadId,
        campaignId: 'campaign-1',
        listId: n % 2 === 0 ? 'list-a' : 'list-b',
        appliedCommandIds: [],
        updatedAt,
      });
      if (docs.length >= LOAD_BATCH) await flush();
    }
  }
  await flush();
  if (to > from) process.stderr.write(`  loaded leads ${from} → ${to} in ${Math.round((Date.now() - started) / 1000)} s\n`);
  return perTenantTo * TENANTS;
}
