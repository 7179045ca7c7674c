import { LogRecord, logIdFor, newLogRecord, sampleEvent, webhookBody } from '@triggers/contracts';
import {
  MongoHandle,
  TriggerStatsDocument,
  TriggerSummaryDocument,
  ensureEventLogIndexes,
  ensureTriggerStatsIndexes,
  eventLogsCollection,
  planStats,
  toEventLogDocument,
  toStored,
  triggerStatsCollection,
} from '@triggers/mongo';

const BODY = webhookBody('agent.wrap', sampleEvent('agent.wrap').payload);

/**
 * A delivered-webhook record, the most common kind and the largest (its request and response
 * are in it): tenant, trigger, id and time as `over` says, else spread over 10 tenants and 100
 * triggers, now.
 */
export function webhookRecord(i: number, over: Partial<Pick<LogRecord, 'logId' | 'tenantId' | 'triggerId' | 'time'>> = {}): LogRecord {
  return newLogRecord({
    logId: logIdFor('bench', i),
    tenantId: `tenant-${i % 10}`,
    triggerId: `trigger-${i % 100}`,
    time: Date.now(),
    ...over,
    eventId: `evt-${i}`,
    eventType: 'agent.wrap',
    commandId: `cmd-${i}`,
    step: 'webhook.delivered',
    status: 'ok',
    attempt: 1,
    message: 'delivered: HTTP 200 in 12 ms (attempt 1)',
    http: {
      method: 'POST',
      url: 'https://hooks.example.com/wrap',
      requestHeaders: { 'content-type': 'application/json', 'webhook-id': `cmd-${i}`, 'webhook-timestamp': '1700000000' },
      requestBody: BODY,
      responseStatus: 200,
      responseHeaders: { 'content-type': 'application/json' },
      responseBody: '{"ok":true}',
      responseTruncated: false,
      durationMs: 5 + (i % 200),
      errorClass: null,
    },
  });
}

/**
 * A record of one step of a trigger's action, for tests of what is counted: a webhook step has
 * its HTTP exchange (200 when delivered, else 503, taking `durationMs`), others none.
 */
export function stepRecord(r: { logId: string; tenantId: string; triggerId: string | null; step: string; time: number; durationMs?: number }): LogRecord {
  return newLogRecord({
    ...r,
    eventId: `e-${r.logId}`,
    eventType: 'agent.wrap',
    commandId: `c-${r.logId}`,
    status: r.step === 'webhook.delivered' || r.step === 'lead.moved' ? 'ok' : r.step === 'matched' ? 'info' : 'failed',
    attempt: 1,
    message: r.step,
    http: r.step.startsWith('webhook.')
      ? {
          method: 'POST',
          url: 'https://hooks.example.com',
          requestHeaders: {},
          requestBody: '{}',
          responseStatus: r.step === 'webhook.delivered' ? 200 : 503,
          responseHeaders: {},
          responseBody: '',
          responseTruncated: false,
          durationMs: r.durationMs ?? 10,
          errorClass: null,
        }
      : null,
  });
}

const DAY = 86_400_000;
const LOAD_BATCH = 1_000;

/** Where a history is written and what it has written so far (grown size by size). */
export interface EventLogHistory {
  mongo: MongoHandle;
  /** The triggers the records are spread over, in turn. */
  triggers: { tenantId: string; triggerId: string }[];
  /** The records' times go back `spanMs` from `now`. */
  now: number;
  spanMs: number;
  /** Records written so far. */
  records: number;
  /** The stats and summaries of the records written so far, by key. */
  stats: Map<string, TriggerStatsDocument>;
  summaries: Map<string, TriggerSummaryDocument>;
}

/** A history to grow with {@link growEventLogHistory}: by default eight days back from now. */
export function eventLogHistory(mongo: MongoHandle, triggers: EventLogHistory['triggers'], opts: { now?: number; spanMs?: number } = {}): EventLogHistory {
  return { mongo, triggers, now: opts.now ?? Date.now(), spanMs: opts.spanMs ?? 8 * DAY, records: 0, stats: new Map(), summaries: new Map() };
}

/**
 * Record `i` of a history: the triggers in turn, its time anywhere in the span (Knuth's
 * multiplicative hash, so no trigger clusters in time), and its kind by round over the triggers,
 * so each has every kind in the same shares: six in ten delivered, three failed attempts waiting
 * for a retry, one a `matched` step, as a trigger whose endpoint fails now and then leaves them.
 */
export function historyRecord(h: Pick<EventLogHistory, 'triggers' | 'now' | 'spanMs'>, i: number): LogRecord {
  const { tenantId, triggerId } = h.triggers[i % h.triggers.length];
  const time = h.now - ((i * 2_654_435_761) % h.spanMs);
  const kind = Math.floor(i / h.triggers.length) % 10;
  const base = { tenantId, triggerId, logId: logIdFor(`history-${i}`, triggerId, String(kind)), time };
  if (kind < 6) return webhookRecord(i, base);
  if (kind < 9)
    return {
      ...webhookRecord(i, base),
      step: 'webhook.attempt',
      status: 'failed',
      message: 'HTTP 503 (attempt 1); next attempt in 10 minutes',
      nextDueAt: time + 600_000,
    };
  return { ...webhookRecord(i, base), step: 'matched', status: 'info', commandId: null, http: null, attempt: null, message: 'matched trigger' };
}

/**
 * Grows a history to `size` records: the records as the log-sink stores them, with its indexes (as one partition,
 * record i at offset i), and their stats and summaries counted with the log-sink's own planning
 * as they load and written once at the end (the log-sink meets records in time order and writes
 * a few documents a batch, where records spread over days would make it write one per record).
 */
export async function growEventLogHistory(h: EventLogHistory, size: number): Promise<void> {
  const db = h.mongo.db;
  if (h.records === 0) {
    await ensureEventLogIndexes(eventLogsCollection(db));
    await ensureTriggerStatsIndexes(db);
  }
  for (let i = h.records; i < size; i += LOAD_BATCH) {
    const batch = [];
    for (let k = i; k < Math.min(size, i + LOAD_BATCH); k++) batch.push({ record: historyRecord(h, k), offset: k });
    await eventLogsCollection(db).insertMany(
      batch.map((r) => toEventLogDocument(r.record, { partition: 0, offset: r.offset })),
      { ordered: false },
    );
    const plan = planStats(batch, 0, batch[batch.length - 1].offset, h, h.now);
    for (const d of plan.stats) h.stats.set(d.key, d);
    for (const d of plan.summaries) h.summaries.set(d.key, d);
  }
  if (size <= h.records) return;
  h.records = size;
  const collection = triggerStatsCollection(db);
  const docs = [...h.stats.values(), ...h.summaries.values()].map(toStored);
  await collection.deleteMany({ tenantId: { $in: [...new Set(h.triggers.map((t) => t.tenantId))] } });
  for (let i = 0; i < docs.length; i += LOAD_BATCH) await collection.insertMany(docs.slice(i, i + LOAD_BATCH), { ordered: false });
}
