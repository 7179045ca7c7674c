import { Inject, Injectable } from '@nestjs/common';
import type { Collection, Db } from 'mongodb';
import {
  EndpointHealthView,
  endpointHealthOf,
  Durations,
  EventLogDocument,
  HOUR,
  MongoHandle,
  addDuration,
  eventLogsCollection,
  percentile,
  triggerStatsFrom,
  triggerSummariesOf,
} from '@triggers/mongo';
import { MONGO } from '@triggers/runtime';
import { ApiError } from '../http/api-errors';

/** The windows stats are asked for, with the width of one chart bucket. */
export const STATS_WINDOWS = {
  '24h': { ms: 24 * HOUR, bucketMs: HOUR },
  '7d': { ms: 7 * 24 * HOUR, bucketMs: 6 * HOUR },
} as const;
export type StatsWindow = keyof typeof STATS_WINDOWS;

/** The start of a window's first bucket: whole buckets, the last one the bucket `now` is in. */
function windowStart(window: StatsWindow, now: number): number {
  const { ms, bucketMs } = STATS_WINDOWS[window];
  return now - (now % bucketMs) - (ms / bucketMs - 1) * bucketMs;
}

/** A trigger's delivery health over a window. */
export interface DeliveryStats {
  window: StatsWindow;
  from: string;
  to: string;
  /** Attempts answered 2xx. */
  delivered: number;
  /** Attempts that failed: those retried later, the last before giving up, the blocked. */
  failedAttempts: number;
  /** Retries scheduled and not yet due. */
  waitingRetries: number;
  /** Webhooks given up (48 hours of failures, or their trigger deleted). */
  gaveUp: number;
  /** delivered ÷ (delivered + failedAttempts); null with no attempt in the window. */
  successRatio: number | null;
  /** Duration of the delivered attempts (request to end of response). */
  latencyMs: { p50: number | null; p95: number | null };
  /** Attempts by outcome per bucket (24 hours for 24h, 28 spans of 6 hours for 7d), oldest first, `t` its start; the counts above are their sums. */
  series: { t: string; delivered: number; failed: number }[];
}

/** One trigger's last 24 hours in the list. */
export interface TriggerHealth {
  delivered: number;
  failedAttempts: number;
  gaveUp: number;
  successRatio: number | null;
}

/** The last step a trigger's actions logged (the list's "Last delivery"). */
export interface LastDelivery {
  logId: string;
  time: string;
  step: string;
  status: string;
  responseStatus: number | null;
}

const ratio = (ok: number, failed: number) => (ok + failed === 0 ? null : Math.round((ok / (ok + failed)) * 10_000) / 10_000);

/**
 * Delivery stats from what the log-sink keeps per trigger (`libs/mongo`'s trigger-stats): the
 * stats documents of the window (one per six hours, by hour, with the delivered attempts'
 * durations, which give the latency percentiles), and one count of the waiting retries; the
 * list's column from the summaries of a page of triggers. Each is served by an index and reads
 * the same few documents whatever the number of records. Answers are kept for a few seconds per
 * trigger and window, so a page refreshing, or a tenant asking in a loop, does not repeat the
 * work; queries stop after `maxTimeMS`.
 */
@Injectable()
export class DeliveryStatsService {
  private readonly logs: Collection<EventLogDocument>;
  private readonly db: Db;
  private readonly cache = new Map<string, { until: number; value: Promise<unknown> }>();
  static readonly CACHE_MS = 10_000;
  static readonly MAX_TIME_MS = 15_000;

  constructor(@Inject(MONGO) mongo: MongoHandle) {
    this.logs = eventLogsCollection(mongo.db);
    this.db = mongo.db;
  }

  /** Parses `?window=`: 24h (the default) or 7d. */
  static window(raw: unknown): StatsWindow {
    if (raw === undefined || raw === '') return '24h';
    if (typeof raw === 'string' && raw in STATS_WINDOWS) return raw as StatsWindow;
    throw new ApiError(400, 'invalid query', [{ path: 'window', message: 'window must be 24h or 7d' }]);
  }

  private cached<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.value as Promise<T>;
    for (const [k, v] of this.cache) if (v.until <= now) this.cache.delete(k);
    const value = compute();
    this.cache.set(key, { until: now + DeliveryStatsService.CACHE_MS, value });
    value.catch(() => this.cache.delete(key));
    return value;
  }

  /** One trigger's stats over `window`, ending now. */
  stats(tenantId: string, triggerId: string, window: StatsWindow): Promise<DeliveryStats> {
    return this.cached(`${tenantId}\u0000${triggerId}\u0000${window}`, () => this.compute(tenantId, triggerId, window, Date.now()));
  }

  private async compute(tenantId: string, triggerId: string, window: StatsWindow, now: number): Promise<DeliveryStats> {
    const { ms, bucketMs } = STATS_WINDOWS[window];
    // Whole buckets, aligned on their width, the last one the bucket now is in: the window starts
    // with the first (24 hours for 24h, give or take the current hour's progress).
    const buckets = ms / bucketMs;
    const firstBucket = windowStart(window, now);
    const [docs, waitingRetries] = await Promise.all([
      triggerStatsFrom(this.db, tenantId, triggerId, firstBucket),
      // Served by {tenantId, triggerId, nextDueAt}: only the retries still due are read.
      this.logs.countDocuments(
        { tenantId, triggerId, step: 'webhook.attempt', nextDueAt: { $gt: new Date(now) } },
        { maxTimeMS: DeliveryStatsService.MAX_TIME_MS },
      ),
    ]);
    const series = Array.from({ length: buckets }, (_, i) => ({ t: new Date(firstBucket + i * bucketMs).toISOString(), delivered: 0, failed: 0 }));
    const total = { delivered: 0, failed: 0, gaveUp: 0 };
    const durations: Durations = [];
    for (const doc of docs)
      for (const h of doc.hours) {
        const i = Math.floor((h.start.getTime() - firstBucket) / bucketMs);
        if (i < 0 || i >= buckets || h.start.getTime() > now) continue;
        series[i].delivered += h.delivered;
        series[i].failed += h.failed;
        total.delivered += h.delivered;
        total.failed += h.failed;
        total.gaveUp += h.gaveUp;
        for (const d of h.durations) addDuration(durations, d.ms, d.n);
      }
    return {
      window,
      from: new Date(firstBucket).toISOString(),
      to: new Date(now).toISOString(),
      delivered: total.delivered,
      failedAttempts: total.failed,
      waitingRetries,
      gaveUp: total.gaveUp,
      successRatio: ratio(total.delivered, total.failed),
      latencyMs: { p50: percentile(durations, 0.5), p95: percentile(durations, 0.95) },
      series,
    };
  }

  /**
   * The list's columns for a page of a tenant's triggers: each one's last 24 hours (the same
   * window as the 24-hour stats) and its last step, from their summaries in one query.
   */
  /**
   * Each trigger's webhook endpoint health (`failing` since when and why, or `healthy`), as the
   * dispatchers' health processor last recorded it; a trigger never failing so far is healthy.
   */
  async endpointHealth(tenantId: string, triggerIds: string[]): Promise<Map<string, EndpointHealthView>> {
    const found = await endpointHealthOf(this.db, tenantId, triggerIds);
    return new Map(triggerIds.map((id) => [id, found.get(id) ?? { state: 'healthy', since: null, message: null }]));
  }

  async health(
    tenantId: string,
    triggerIds: string[],
    now = Date.now(),
  ): Promise<Map<string, { deliveries24h: TriggerHealth; lastDelivery: LastDelivery | null }>> {
    const out = new Map<string, { deliveries24h: TriggerHealth; lastDelivery: LastDelivery | null }>();
    for (const id of triggerIds) out.set(id, { deliveries24h: { delivered: 0, failedAttempts: 0, gaveUp: 0, successRatio: null }, lastDelivery: null });
    if (triggerIds.length === 0) return out;
    const from = windowStart('24h', now);
    // A trigger's records normally live in one partition, so one summary each; more are summed.
    for (const s of await triggerSummariesOf(this.db, tenantId, triggerIds)) {
      const entry = out.get(s.triggerId);
      if (!entry) continue;
      for (const h of s.hours) {
        if (h.start.getTime() < from || h.start.getTime() > now) continue;
        entry.deliveries24h.delivered += h.delivered;
        entry.deliveries24h.failedAttempts += h.failed;
        entry.deliveries24h.gaveUp += h.gaveUp;
      }
      const last = entry.lastDelivery;
      if (s.last && (!last || s.last.time.toISOString() > last.time)) entry.lastDelivery = { ...s.last, time: s.last.time.toISOString() };
    }
    for (const { deliveries24h: h } of out.values()) h.successRatio = ratio(h.delivered, h.failedAttempts);
    return out;
  }
}
