import type { LogRecord } from '@triggers/contracts';
import { stepRecord } from '@triggers/testing';
import {
  CountedRecord,
  Durations,
  HOUR,
  STATS_SPAN_MS,
  TriggerStatsDocument,
  TriggerSummaryDocument,
  addDuration,
  latestVersions,
  percentile,
  planStats,
  statsKeyOf,
  summaryKeyOf,
  touchedKeys,
} from './trigger-stats.document';
import { packDurations, packHours, unpackDurations, unpackHours } from './trigger-stats.store';

describe('latency percentiles from a histogram of durations', () => {
  /** The nearest-rank percentile of the durations themselves, the reference. */
  const nearestRank = (durations: number[], q: number) => {
    const sorted = [...durations].sort((a, b) => a - b);
    return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  };
  const histogramOf = (durations: number[]) => durations.reduce<Durations>((h, d) => (addDuration(h, d, 1), h), []);

  it('is null with no delivered attempt', () => {
    expect(percentile([], 0.5)).toBeNull();
  });

  it('gives the nearest rank of the durations, however they repeat and in whatever order they came', () => {
    for (const durations of [[7], [5, 5, 5, 9], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1], [120, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 900]]) {
      for (const q of [0.5, 0.95]) expect({ durations, q, p: percentile(histogramOf(durations), q) }).toEqual({ durations, q, p: nearestRank(durations, q) });
    }
    expect(histogramOf([5, 1, 5, 3])).toEqual([
      { ms: 1, n: 1 },
      { ms: 3, n: 1 },
      { ms: 5, n: 2 },
    ]);
  });
});

describe('planStats: a batch of one partition counted in the stats and summaries', () => {
  const NOW = Date.parse('2026-12-07T10:30:00Z');
  const P = 3;
  const record = (offset: number, step: string, over: Partial<LogRecord> = {}): CountedRecord => ({
    offset,
    record: {
      ...stepRecord({ logId: `log-${offset}`, tenantId: 'acme', triggerId: 't1', step, time: NOW - 60_000, durationMs: 10 + (offset % 3) }),
      ...over,
    },
  });
  const empty = () => ({ stats: new Map<string, TriggerStatsDocument>(), summaries: new Map<string, TriggerSummaryDocument>() });
  /** The documents as written by a plan, as the next batch reads them. */
  const written = (plan: ReturnType<typeof planStats>, into = empty()) => {
    for (const doc of plan.stats) into.stats.set(doc.key, doc);
    for (const doc of plan.summaries) into.summaries.set(doc.key, doc);
    return into;
  };
  const statsKey = (time: number) => statsKeyOf('acme', 't1', P, time - (time % STATS_SPAN_MS));
  const hourOf = (time: number) => new Date(time - (time % HOUR));

  const batch = [
    record(10, 'matched'),
    record(11, 'webhook.attempt'),
    record(12, 'webhook.delivered'),
    record(13, 'webhook.delivered', { time: NOW - 2 * HOUR }),
    record(14, 'webhook.gave_up'),
    record(15, 'lead.moved', { triggerId: 't1', status: 'ok', time: NOW - 30_000 }),
    record(16, 'webhook.delivered', { triggerId: null }),
  ];

  it('counts attempts by hour, failed and given up, with the delivered durations, and keeps the last step', () => {
    const plan = planStats(batch, P, 16, empty(), NOW);
    const [stats] = plan.stats;
    expect(plan.stats).toHaveLength(1);
    expect(stats).toMatchObject({ _id: `${statsKey(NOW)}@16`, key: statsKey(NOW), tenantId: 'acme', triggerId: 't1', partition: P, upTo: 16 });
    expect(stats.hours).toEqual([
      { start: hourOf(NOW - 2 * HOUR), delivered: 1, failed: 0, gaveUp: 0, durations: [{ ms: 11, n: 1 }] },
      { start: hourOf(NOW), delivered: 1, failed: 2, gaveUp: 1, durations: [{ ms: 10, n: 1 }] },
    ]);
    const [summary] = plan.summaries;
    expect(summary).toMatchObject({ _id: `${summaryKeyOf('acme', 't1', P)}@16`, key: summaryKeyOf('acme', 't1', P), upTo: 16 });
    expect(summary.hours).toEqual([
      { start: hourOf(NOW - 2 * HOUR), delivered: 1, failed: 0, gaveUp: 0 },
      { start: hourOf(NOW), delivered: 1, failed: 2, gaveUp: 1 },
    ]);
    expect(summary.last).toEqual({ logId: 'log-15', time: new Date(NOW - 30_000), step: 'lead.moved', status: 'ok', responseStatus: null });
    expect(touchedKeys(batch, P)).toEqual({ stats: [statsKey(NOW)], summaries: [summaryKeyOf('acme', 't1', P)] });
  });

  it('writes nothing for a batch its documents have counted (the same batch after a crash)', () => {
    const docs = written(planStats(batch, P, 16, empty(), NOW));
    expect(planStats(batch, P, 16, docs, NOW)).toEqual({ stats: [], summaries: [] });
    expect(planStats(batch.slice(0, 4), P, 13, docs, NOW)).toEqual({ stats: [], summaries: [] });
  });

  it('counts only the records past what a document has counted when a batch is read again with others', () => {
    const docs = written(planStats(batch.slice(0, 3), P, 12, empty(), NOW));
    // The version at 16 is the same whichever version before it it was made from.
    expect(planStats(batch, P, 16, docs, NOW)).toEqual(planStats(batch, P, 16, empty(), NOW));
  });

  it('keeps 25 hours in a summary, while the stats keep every hour', () => {
    const old = [record(20, 'webhook.delivered', { time: NOW - 30 * HOUR }), record(21, 'webhook.attempt', { time: NOW - 26 * HOUR })];
    const docs = written(planStats(old, P, 21, empty(), NOW - 5 * HOUR));
    expect([...docs.summaries.values()][0].hours.map((h) => h.start)).toEqual([hourOf(NOW - 26 * HOUR)]);
    const later = written(planStats([record(22, 'webhook.delivered')], P, 22, docs, NOW), docs);
    expect([...later.summaries.values()][0].hours.map((h) => h.start)).toEqual([hourOf(NOW)]);
    expect([...later.stats.values()].flatMap((d) => d.hours.map((h) => h.start)).sort((a, b) => a.getTime() - b.getTime())).toEqual([
      hourOf(NOW - 30 * HOUR),
      hourOf(NOW - 26 * HOUR),
      hourOf(NOW),
    ]);
  });

  it('reads the highest version of each document', () => {
    const v = (key: string, upTo: number) => ({ _id: `${key}@${upTo}`, key, upTo });
    expect(latestVersions([v('a', 3), v('b', 1), v('a', 9), v('a', 5)])).toEqual([v('a', 9), v('b', 1)]);
  });

  it('keeps the newest step as the last, whatever order the records come in', () => {
    const docs = written(planStats([record(30, 'webhook.delivered', { time: NOW })], P, 30, empty(), NOW));
    const plan = planStats([record(31, 'webhook.attempt', { time: NOW - HOUR })], P, 31, docs, NOW);
    expect(plan.summaries[0].last).toMatchObject({ logId: 'log-30', step: 'webhook.delivered', responseStatus: 200 });
    expect(plan.summaries[0].hours.map((h) => [h.delivered, h.failed])).toEqual([
      [0, 1],
      [1, 0],
    ]);
  });
});

describe('hours and durations as stored', () => {
  it('pack into one string and back, counts and order kept', () => {
    const durations = [
      { ms: 3, n: 1 },
      { ms: 12, n: 40 },
      { ms: 1500, n: 2 },
    ];
    expect(packDurations(durations)).toBe('3 12x40 1500x2');
    expect(unpackDurations(packDurations(durations))).toEqual(durations);
    expect(unpackDurations(packDurations([]))).toEqual([]);
  });

  it('pack with their hours into one string and back', () => {
    const hours = [
      { start: new Date(3_600_000), delivered: 2, failed: 1, gaveUp: 0, durations: [{ ms: 12, n: 2 }] },
      { start: new Date(7_200_000), delivered: 0, failed: 3, gaveUp: 1, durations: [] },
    ];
    expect(packHours(hours)).toBe('3600000|2|1|0|12x2;7200000|0|3|1|');
    expect(unpackHours(packHours(hours), true)).toEqual(hours);
    expect(unpackHours(packHours(hours.map(({ durations: _, ...h }) => h)), false)).toEqual(hours.map(({ durations: _, ...h }) => h));
    expect(unpackHours('', true)).toEqual([]);
  });
});
