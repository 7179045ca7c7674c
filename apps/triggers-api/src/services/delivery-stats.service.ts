import { Inject, Injectable } from '@nestjs/common';
import type { Collection, Filter } from 'mongodb';
import { EventLogDocument, MongoHandle, eventLogsCollection } from '@triggers/mongo';
import { MONGO } from '@triggers/runtime';
import { ApiError } from './api-errors';

const HOUR = 3_600_000;

/** The windows stats are asked for, with the width of one chart bucket. */
export const STATS_WINDOWS = {
  '24h': { ms: 24 * HOUR, bucketMs: HOUR },
  '7d': { ms: 7 * 24 * HOUR, bucketMs: 6 * HOUR },
} as const;
export type StatsWindow = keyof typeof STATS_WINDOWS;

/** Steps that are webhook attempts, by outcome. */
const FAILED_ATTEMPT_STEPS = ['webhook.attempt', 'webhook.gave_up', 'webhook.blocked'];
const ATTEMPT_STEPS = ['webhook.delivered', ...FAILED_ATTEMPT_STEPS];

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

/** The summary of one trigger in the list. */
export interface TriggerHealth {
  triggerId: string;
  delivered: number;
  failedAttempts: number;
  gaveUp: number;
  successRatio: number | null;
}

/** The duration at quantile `q` (nearest rank) of a histogram of `[durationMs, count]`, shortest first. */
export function percentile(histogram: [number, number][], q: number): number | null {
  const count = histogram.reduce((n, [, c]) => n + c, 0);
  if (count === 0) return null;
  const rank = Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1));
  let seen = 0;
  for (const [ms, c] of histogram) {
    seen += c;
    if (seen > rank) return ms;
  }
  return null;
}

const ratio = (ok: number, failed: number) => (ok + failed === 0 ? null : Math.round((ok / (ok + failed)) * 10_000) / 10_000);

/**
 * Delivery stats from the `event_logs` collection: one aggregation that counts a trigger's
 * attempts by hour, step and duration (by fields only, which MongoDB and FerretDB both run; the
 * delivered attempts' durations give the latency percentiles), and one count for the waiting
 * retries, each served by an index (`libs/mongo`'s event-log indexes). Answers are kept for a
 * few seconds per trigger and window, so a page refreshing, or a tenant asking in a loop, does
 * not repeat the work; queries stop after `maxTimeMS`.
 */
@Injectable()
export class DeliveryStatsService {
  private readonly logs: Collection<EventLogDocument>;
  private readonly cache = new Map<string, { until: number; value: Promise<unknown> }>();
  static readonly CACHE_MS = 10_000;
  static readonly MAX_TIME_MS = 15_000;

  constructor(@Inject(MONGO) mongo: MongoHandle) {
    this.logs = eventLogsCollection(mongo.db);
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
    const firstBucket = now - (now % bucketMs) - (buckets - 1) * bucketMs;
    const from = firstBucket;
    const inWindow: Filter<EventLogDocument> = { tenantId, triggerId, time: { $gte: new Date(from), $lte: new Date(now) }, step: { $in: ATTEMPT_STEPS } };
    const maxTimeMS = DeliveryStatsService.MAX_TIME_MS;
    const [groups, waitingRetries] = await Promise.all([
      this.logs
        .aggregate<{ _id: { hour: Date | null; step: string; ms?: number | null }; n: number }>(
          [{ $match: inWindow }, { $group: { _id: { hour: '$hour', step: '$step', ms: '$http.durationMs' }, n: { $sum: 1 } } }],
          { maxTimeMS },
        )
        .toArray(),
      this.logs.countDocuments({ tenantId, triggerId, step: 'webhook.attempt', nextDueAt: { $gt: new Date(now) } }, { maxTimeMS }),
    ]);
    const series = Array.from({ length: buckets }, (_, i) => ({ t: new Date(firstBucket + i * bucketMs).toISOString(), delivered: 0, failed: 0 }));
    let delivered = 0;
    let failedAttempts = 0;
    let gaveUp = 0;
    const durations = new Map<number, number>();
    for (const { _id, n } of groups) {
      const ok = _id.step === 'webhook.delivered';
      if (ok && typeof _id.ms === 'number') durations.set(_id.ms, (durations.get(_id.ms) ?? 0) + n);
      if (ok) delivered += n;
      else failedAttempts += n;
      if (_id.step === 'webhook.gave_up') gaveUp += n;
      if (_id.hour) {
        const i = Math.floor((new Date(_id.hour).getTime() - firstBucket) / bucketMs);
        if (i >= 0 && i < buckets) series[i][ok ? 'delivered' : 'failed'] += n;
      }
    }
    const histogram = [...durations].sort(([a], [b]) => a - b);
    return {
      window,
      from: new Date(from).toISOString(),
      to: new Date(now).toISOString(),
      delivered,
      failedAttempts,
      waitingRetries,
      gaveUp,
      successRatio: ratio(delivered, failedAttempts),
      latencyMs: { p50: percentile(histogram, 0.5), p95: percentile(histogram, 0.95) },
      series,
    };
  }

  /** The last 24 hours of every trigger of a tenant with attempts in them (the list's health column). */
  health(tenantId: string): Promise<TriggerHealth[]> {
    return this.cached(`${tenantId}\u0000*`, async () => {
      const now = Date.now();
      const groups = await this.logs
        .aggregate<{ _id: { triggerId: string; step: string }; n: number }>(
          [
            { $match: { tenantId, time: { $gte: new Date(now - STATS_WINDOWS['24h'].ms) }, step: { $in: ATTEMPT_STEPS } } },
            { $group: { _id: { triggerId: '$triggerId', step: '$step' }, n: { $sum: 1 } } },
          ],
          { maxTimeMS: DeliveryStatsService.MAX_TIME_MS },
        )
        .toArray();
      const byTrigger = new Map<string, TriggerHealth>();
      for (const { _id, n } of groups) {
        const h = byTrigger.get(_id.triggerId) ?? { triggerId: _id.triggerId, delivered: 0, failedAttempts: 0, gaveUp: 0, successRatio: null };
        if (_id.step === 'webhook.delivered') h.delivered += n;
        else h.failedAttempts += n;
        if (_id.step === 'webhook.gave_up') h.gaveUp += n;
        byTrigger.set(_id.triggerId, h);
      }
      for (const h of byTrigger.values()) h.successRatio = ratio(h.delivered, h.failedAttempts);
      return [...byTrigger.values()];
    });
  }
}
