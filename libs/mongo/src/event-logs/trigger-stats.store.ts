import type { Db } from 'mongodb';
import { MongoBulkWriteError } from 'mongodb';
import type { LogRecord } from '@triggers/contracts';
import { eventLogsCollection } from './event-log.document';
import {
  AttemptCounts,
  CountedRecord,
  Durations,
  HourCounts,
  STATS_SPAN_MS,
  TRIGGER_STATS_COLLECTION,
  TriggerStatsDocument,
  TriggerSummaryDocument,
  latestVersions,
  planStats,
  touchedKeys,
} from './trigger-stats.document';

type StatsOrSummary = TriggerStatsDocument | TriggerSummaryDocument;

/**
 * A document as stored: its hours packed in one string, so the embedded store (which decodes
 * every value of a document it returns, some 10 µs each) reads a few values a document whatever
 * the traffic: `start|delivered|failed|gaveUp|durations` for each hour, `;` between hours, and the
 * durations `ms` or `msxN` each, shortest first, space-separated ("1765090800000|3|1|0|12x2 15").
 */
type StoredDocument = (Omit<TriggerStatsDocument, 'hours'> | Omit<TriggerSummaryDocument, 'hours'>) & { hours: string };

/** The collection of stats and summaries as stored. */
export const triggerStatsCollection = (db: Db) => db.collection<StoredDocument>(TRIGGER_STATS_COLLECTION);

const isSummary = (d: StatsOrSummary): d is TriggerSummaryDocument => d.start === null;

/** Durations as one string (see {@link StoredDocument}). */
export function packDurations(durations: Durations): string {
  return durations.map((d) => (d.n === 1 ? `${d.ms}` : `${d.ms}x${d.n}`)).join(' ');
}

/** Durations from their string. */
export function unpackDurations(packed: string): Durations {
  if (packed === '') return [];
  return packed.split(' ').map((p) => {
    const x = p.indexOf('x');
    return x === -1 ? { ms: Number(p), n: 1 } : { ms: Number(p.slice(0, x)), n: Number(p.slice(x + 1)) };
  });
}

/** Hours as one string (see {@link StoredDocument}). */
export function packHours(hours: (AttemptCounts & { start: Date; durations?: Durations })[]): string {
  return hours.map((h) => `${h.start.getTime()}|${h.delivered}|${h.failed}|${h.gaveUp}|${h.durations ? packDurations(h.durations) : ''}`).join(';');
}

/** Hours from their string, with their durations when `durations`. */
export function unpackHours(packed: string, durations: true): HourCounts[];
export function unpackHours(packed: string, durations: false): ({ start: Date } & AttemptCounts)[];
export function unpackHours(packed: string, durations: boolean): ({ start: Date } & AttemptCounts & { durations?: Durations })[] {
  if (packed === '') return [];
  return packed.split(';').map((entry) => {
    const [start, delivered, failed, gaveUp, packedDurations] = entry.split('|');
    const hour = { start: new Date(Number(start)), delivered: Number(delivered), failed: Number(failed), gaveUp: Number(gaveUp) };
    return durations ? { ...hour, durations: unpackDurations(packedDurations) } : hour;
  });
}

/** A document as stored. */
export function toStored(doc: StatsOrSummary): StoredDocument {
  return { ...doc, hours: packHours(doc.hours) };
}

/** A document as read. */
function fromStored(doc: StoredDocument): StatsOrSummary {
  return doc.start === null
    ? { ...(doc as Omit<TriggerSummaryDocument, 'hours'>), hours: unpackHours(doc.hours, false) }
    : { ...(doc as Omit<TriggerStatsDocument, 'hours'>), hours: unpackHours(doc.hours, true) };
}

/**
 * The indexes of the stats and summaries (idempotent): the versions of a document (the writer's
 * read), a trigger's stats by start and its summary by `start: null` (the stats' window, a page
 * of the list), the starts alone (the retention's cleanup).
 */
export async function ensureTriggerStatsIndexes(db: Db): Promise<void> {
  await triggerStatsCollection(db).createIndex({ key: 1 });
  await triggerStatsCollection(db).createIndex({ tenantId: 1, triggerId: 1, start: 1 });
  await triggerStatsCollection(db).createIndex({ start: 1 });
}

/**
 * Counts a batch of one partition's stored records in the stats and summaries: reads the versions
 * of the documents it touches (served by `{key}`), plans, inserts the new versions (one that
 * exists already is the same one, written by a try before or by another instance) and then
 * removes the versions they supersede. Returns the versions written.
 */
export async function recordTriggerStats(db: Db, records: CountedRecord[], partition: number, lastOffset: number, now: number): Promise<number> {
  const keys = touchedKeys(records, partition);
  if (keys.stats.length + keys.summaries.length === 0) return 0;
  const collection = triggerStatsCollection(db);
  const read = (await collection.find({ key: { $in: [...keys.stats, ...keys.summaries] } }).toArray()).map(fromStored);
  const latest = latestVersions(read);
  const plan = planStats(
    records,
    partition,
    lastOffset,
    {
      stats: new Map(latest.filter((d) => !isSummary(d)).map((d) => [d.key, d as TriggerStatsDocument])),
      summaries: new Map(latest.filter(isSummary).map((d) => [d.key, d])),
    },
    now,
  );
  const versions: StatsOrSummary[] = [...plan.stats, ...plan.summaries];
  if (versions.length === 0) return 0;
  try {
    await collection.insertMany(versions.map(toStored), { ordered: false });
  } catch (err) {
    // A version that exists already is this one: written by a try before, or by another instance.
    const errors = err instanceof MongoBulkWriteError ? [err.writeErrors].flat().filter((e) => e) : [];
    if (errors.length === 0 || errors.some((e) => e.code !== 11000)) throw err;
  }
  const written = new Set(versions.map((v) => v.key));
  const superseded = read.filter((d) => written.has(d.key) && d.upTo < lastOffset).map((d) => d._id);
  if (superseded.length > 0) await collection.deleteMany({ _id: { $in: superseded } });
  return versions.length;
}

/**
 * A trigger's stats from the six hours `from` is in (the stats' window), latest versions only.
 * Served by `{tenantId, triggerId, start}`.
 */
export async function triggerStatsFrom(db: Db, tenantId: string, triggerId: string, from: number): Promise<TriggerStatsDocument[]> {
  const docs = await triggerStatsCollection(db)
    .find({ tenantId, triggerId, start: { $gte: new Date(from - (from % STATS_SPAN_MS)) } })
    .toArray();
  return latestVersions(docs.map(fromStored) as TriggerStatsDocument[]);
}

/** The summaries of some of a tenant's triggers (a page of the list), latest versions only. Served by `{tenantId, triggerId, start}`. */
export async function triggerSummariesOf(db: Db, tenantId: string, triggerIds: string[]): Promise<TriggerSummaryDocument[]> {
  const docs = await triggerStatsCollection(db)
    .find({ tenantId, triggerId: { $in: triggerIds }, start: null })
    .toArray();
  return latestVersions(docs.map(fromStored) as TriggerSummaryDocument[]);
}

/** Removes stats whose six hours ended before `before` (the retention). Served by `{start}`. */
export async function removeTriggerStatsBefore(db: Db, before: number): Promise<number> {
  return (await triggerStatsCollection(db).deleteMany({ start: { $lt: new Date(before - STATS_SPAN_MS) } })).deletedCount;
}

/** The partition the stats of {@link recountEarlierRecords} are kept under: none of the log topic's. */
export const EARLIER_RECORDS_PARTITION = -1;

/**
 * Counts the records stored before the log-sink kept stats (those without a `source`) into the
 * stats and summaries, under a partition of their own ({@link EARLIER_RECORDS_PARTITION}), beside
 * what the log-sink counts: the two never count one record both. An operator's one-off after an
 * upgrade (`npm run -s admin -- stats recount`): it reads every record (no index serves "stored
 * before"), replaces what an earlier run counted, and can run beside the log-sink. `progress` is
 * told the records read so far.
 */
export async function recountEarlierRecords(db: Db, now: number, progress?: (records: number) => void): Promise<{ records: number; documents: number }> {
  const state = { stats: new Map<string, TriggerStatsDocument>(), summaries: new Map<string, TriggerSummaryDocument>() };
  const cursor = eventLogsCollection(db).find(
    { source: { $exists: false } },
    {
      projection: { tenantId: 1, triggerId: 1, step: 1, status: 1, origin: 1, time: 1, 'http.durationMs': 1, 'http.responseStatus': 1 },
      batchSize: RECOUNT_BATCH,
    },
  );
  let batch: CountedRecord[] = [];
  let records = 0;
  const plan = () => {
    if (batch.length === 0) return;
    const p = planStats(batch, EARLIER_RECORDS_PARTITION, batch[batch.length - 1].offset, state, now);
    for (const d of p.stats) state.stats.set(d.key, d);
    for (const d of p.summaries) state.summaries.set(d.key, d);
    batch = [];
    progress?.(records);
  };
  for await (const d of cursor) {
    const record = { ...d, logId: d._id, time: d.time.getTime() } as unknown as LogRecord;
    batch.push({ record, offset: records++ });
    if (batch.length === RECOUNT_BATCH) plan();
  }
  plan();
  const collection = triggerStatsCollection(db);
  const docs = [...state.stats.values(), ...state.summaries.values()].map(toStored);
  await collection.deleteMany({ partition: EARLIER_RECORDS_PARTITION });
  for (let i = 0; i < docs.length; i += RECOUNT_BATCH) await collection.insertMany(docs.slice(i, i + RECOUNT_BATCH), { ordered: false });
  return { records, documents: state.stats.size + state.summaries.size };
}

const RECOUNT_BATCH = 1_000;
