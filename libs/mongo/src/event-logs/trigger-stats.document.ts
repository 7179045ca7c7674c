import type { LogRecord } from '@triggers/contracts';

/**
 * What the log-sink keeps per trigger beside the raw records, so the delivery stats and the
 * triggers list read a few small documents instead of aggregating a trigger's records: counts of
 * its webhook attempts by hour (in one document per six hours, with the delivered attempts'
 * durations), and a summary per trigger (its last 25 hours' counts and its last step).
 *
 * Each document belongs to one partition of the log topic (records are keyed by trigger, so a
 * trigger's live in one) and is written in versions that never change: the version `upTo` holds
 * every counted record of the partition up to that offset, and is the one before it plus the
 * batch's records past it. A version is a function of the offset alone, so a batch seen again
 * after a crash writes a version that exists already, two instances writing one partition at
 * once (a rebalance one has not noticed yet) write versions that agree, and readers take the
 * highest version of each document; the writer removes the versions it supersedes. (No
 * compare-and-set is needed: the embedded store does not make a conditional update atomic.)
 * Which records count at all is decided by the raw write: a record counts when the write stored
 * it, or when it was stored by this same message before (its `source`), never when the same fact
 * came again at another offset. So the counts equal the records stored, without transactions.
 */

export const HOUR = 3_600_000;
/** The span of one stats document: six hours (one bucket of the 7-day chart, six of the 24-hour one). */
export const STATS_SPAN_MS = 6 * HOUR;
/** Hours of counts a summary keeps: the 24-hour window and the hour it has started in. */
export const SUMMARY_HOURS = 25;

/** Steps that are webhook attempts: the delivered, and the failed (retried later, the last before giving up, the blocked). */
export const ATTEMPT_STEPS = ['webhook.delivered', 'webhook.attempt', 'webhook.gave_up', 'webhook.blocked'] as const;
const DELIVERED = 'webhook.delivered';
const GAVE_UP = 'webhook.gave_up';
/** The step that is no action's outcome (the list's last delivery skips it). */
const MATCHED = 'matched';

/** Both kinds live in one collection, so a batch reads, writes and removes them in one command each. */
export const TRIGGER_STATS_COLLECTION = 'trigger_stats';

/** Webhook attempts by outcome. */
export interface AttemptCounts {
  delivered: number;
  /** Attempts that failed: retried later, the last before giving up, the blocked. */
  failed: number;
  /** Webhooks given up (also counted in `failed`). */
  gaveUp: number;
}

/** A histogram of durations: `n` delivered attempts took `ms`, shortest first. */
export type Durations = { ms: number; n: number }[];

/** One hour of a trigger's attempts. */
export interface HourCounts extends AttemptCounts {
  start: Date;
  durations: Durations;
}

/** What every version of a stats or summary document has. */
export interface Versioned {
  /** `key@upTo`. */
  _id: string;
  /** The document's identity: tenant, trigger, partition (and six hours for stats). */
  key: string;
  /** The last offset of `partition` counted. */
  upTo: number;
}

/** A trigger's attempts over six hours, by hour (`trigger_stats`). */
export interface TriggerStatsDocument extends Versioned {
  tenantId: string;
  triggerId: string;
  partition: number;
  /** The six hours' start (a multiple of six hours since the epoch). */
  start: Date;
  /** The hours with attempts, oldest first. */
  hours: HourCounts[];
}

/** The last step a trigger's actions logged (the list's "Last delivery"). */
export interface LastStep {
  logId: string;
  time: Date;
  step: string;
  status: LogRecord['status'];
  responseStatus: number | null;
}

/** A trigger's recent attempts and last step (in `trigger_stats`, with no `start`). */
export interface TriggerSummaryDocument extends Versioned {
  tenantId: string;
  triggerId: string;
  partition: number;
  /** null: what tells a summary from six hours of stats (`start: null` finds the summaries). */
  start: null;
  /** The last {@link SUMMARY_HOURS} hours with attempts, oldest first, without durations. */
  hours: ({ start: Date } & AttemptCounts)[];
  last: LastStep | null;
}

/** A stored log record and where it sits on the log topic. */
export interface CountedRecord {
  record: LogRecord;
  offset: number;
}

export const statsKeyOf = (tenantId: string, triggerId: string, partition: number, start: number) => `${tenantId}/${triggerId}/${partition}/${start}`;
export const summaryKeyOf = (tenantId: string, triggerId: string, partition: number) => `${tenantId}/${triggerId}/${partition}`;
const versionId = (key: string, upTo: number) => `${key}@${upTo}`;

/** The highest version of each document among `docs` (readers may meet a superseded one not yet removed). */
export function latestVersions<T extends Versioned>(docs: T[]): T[] {
  const latest = new Map<string, T>();
  for (const d of docs) if ((latest.get(d.key)?.upTo ?? -Infinity) < d.upTo) latest.set(d.key, d);
  return [...latest.values()];
}

const floorTo = (time: number, width: number) => time - (((time % width) + width) % width);
/** An attempt at a trigger's own endpoint: the notifications sent about it are not its deliveries. */
const isAttempt = (r: Pick<LogRecord, 'step'> & { origin?: string }) => (ATTEMPT_STEPS as readonly string[]).includes(r.step) && r.origin !== 'notification';

/** Adds one attempt to counts (and its duration to `durations` when given and delivered). */
function count(into: AttemptCounts & { durations?: Durations }, r: LogRecord): void {
  if (r.step === DELIVERED) {
    into.delivered += 1;
    const ms = r.http?.durationMs;
    if (into.durations && typeof ms === 'number') addDuration(into.durations, ms, 1);
  } else into.failed += 1;
  if (r.step === GAVE_UP) into.gaveUp += 1;
}

/** Adds `n` attempts of `ms` to a histogram, keeping it ordered. */
export function addDuration(durations: Durations, ms: number, n: number): void {
  let lo = 0;
  let hi = durations.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (durations[mid].ms < ms) lo = mid + 1;
    else hi = mid;
  }
  if (durations[lo]?.ms === ms) durations[lo].n += n;
  else durations.splice(lo, 0, { ms, n });
}

/** The duration at quantile `q` (nearest rank) of a histogram, or null when it is empty. */
export function percentile(durations: Durations, q: number): number | null {
  const total = durations.reduce((n, d) => n + d.n, 0);
  if (total === 0) return null;
  const rank = Math.min(total - 1, Math.max(0, Math.ceil(q * total) - 1));
  let seen = 0;
  for (const d of durations) {
    seen += d.n;
    if (seen > rank) return d.ms;
  }
  return null;
}

/** The versions one batch writes. */
export interface StatsPlan {
  stats: TriggerStatsDocument[];
  summaries: TriggerSummaryDocument[];
}

/** The documents a batch's records touch, by key: what the writer reads before it plans. */
export function touchedKeys(records: CountedRecord[], partition: number): { stats: string[]; summaries: string[] } {
  const stats = new Set<string>();
  const summaries = new Set<string>();
  for (const { record: r } of records) {
    if (!r.triggerId || r.step === MATCHED) continue;
    summaries.add(summaryKeyOf(r.tenantId, r.triggerId, partition));
    if (isAttempt(r)) stats.add(statsKeyOf(r.tenantId, r.triggerId, partition, floorTo(r.time, STATS_SPAN_MS)));
  }
  return { stats: [...stats], summaries: [...summaries] };
}

/**
 * What a batch of one partition does to the stats documents (a pure function): each document its
 * records touch takes the records past the version read, and becomes the version `lastOffset`.
 * A document whose version read has counted the batch already is not written.
 *
 * @param records the batch's records that count, in offset order
 * @param lastOffset the batch's last offset
 * @param existing the latest versions of the touched documents, by key (absent ones are new)
 * @param now the wall clock: a summary keeps the hours of the last {@link SUMMARY_HOURS}
 */
export function planStats(
  records: CountedRecord[],
  partition: number,
  lastOffset: number,
  existing: { stats: Map<string, TriggerStatsDocument>; summaries: Map<string, TriggerSummaryDocument> },
  now: number,
): StatsPlan {
  const stats = new Map<string, { doc: TriggerStatsDocument; readAt: number }>();
  const summaries = new Map<string, { doc: TriggerSummaryDocument; readAt: number }>();
  const oldestHour = floorTo(now, HOUR) - (SUMMARY_HOURS - 1) * HOUR;
  for (const { record: r, offset } of records) {
    if (!r.triggerId || r.step === MATCHED) continue;
    const summaryKey = summaryKeyOf(r.tenantId, r.triggerId, partition);
    const summary = entryOf(summaries, existing.summaries, summaryKey, (read) =>
      read
        ? { ...read, hours: read.hours.map((h) => ({ ...h })) }
        : { _id: '', key: summaryKey, tenantId: r.tenantId, triggerId: r.triggerId!, partition, start: null, upTo: -1, hours: [], last: null },
    );
    if (offset > summary.readAt) applyToSummary(summary.doc, r, oldestHour);
    if (!isAttempt(r)) continue;
    const start = floorTo(r.time, STATS_SPAN_MS);
    const statsKey = statsKeyOf(r.tenantId, r.triggerId, partition, start);
    const entry = entryOf(stats, existing.stats, statsKey, (read) =>
      read
        ? { ...read, hours: read.hours.map((h) => ({ ...h, durations: h.durations.map((d) => ({ ...d })) })) }
        : { _id: '', key: statsKey, tenantId: r.tenantId, triggerId: r.triggerId!, partition, start: new Date(start), upTo: -1, hours: [] },
    );
    if (offset > entry.readAt) countInHours(entry.doc.hours, r, true);
  }
  for (const s of summaries.values()) s.doc.hours = s.doc.hours.filter((h) => h.start.getTime() >= oldestHour);
  const versions = <T extends Versioned>(entries: Iterable<{ doc: T; readAt: number }>): T[] =>
    [...entries].filter((e) => e.readAt < lastOffset).map(({ doc }) => ({ ...doc, _id: versionId(doc.key, lastOffset), upTo: lastOffset }));
  return { stats: versions(stats.values()), summaries: versions(summaries.values()) };
}

/** The document of `key` a plan changes: a copy of the version read (`copy(read)`), or a new one (`copy(undefined)`). */
function entryOf<T extends Versioned>(
  entries: Map<string, { doc: T; readAt: number }>,
  read: Map<string, T>,
  key: string,
  copy: (read: T | undefined) => T,
): { doc: T; readAt: number } {
  let entry = entries.get(key);
  if (!entry) {
    const doc = read.get(key);
    entry = { doc: copy(doc), readAt: doc ? doc.upTo : -1 };
    entries.set(key, entry);
  }
  return entry;
}

/** Counts an attempt in its hour of `hours` (ordered by start), with its duration when `durations`. */
function countInHours<H extends { start: Date } & AttemptCounts>(hours: H[], r: LogRecord, durations: boolean): void {
  const start = floorTo(r.time, HOUR);
  let i = hours.findIndex((h) => h.start.getTime() >= start);
  if (i === -1) i = hours.length;
  if (hours[i]?.start.getTime() !== start)
    hours.splice(i, 0, { start: new Date(start), delivered: 0, failed: 0, gaveUp: 0, ...(durations && { durations: [] }) } as unknown as H);
  count(hours[i], r);
}

function applyToSummary(doc: TriggerSummaryDocument, r: LogRecord, oldestHour: number): void {
  const last = doc.last;
  if (!last || r.time > last.time.getTime() || (r.time === last.time.getTime() && r.logId > last.logId))
    doc.last = { logId: r.logId, time: new Date(r.time), step: r.step, status: r.status, responseStatus: r.http?.responseStatus ?? null };
  if (isAttempt(r) && r.time >= oldestHour) countInHours(doc.hours, r, false);
}
