import type { LogSinkConfig } from '@triggers/config';
import type { LogRecord } from '@triggers/contracts';
import { CountedRecord, EventLogDocument, HOUR, eventLogsCollection, recountEarlierRecords, toEventLogDocument, triggerStatsCollection } from '@triggers/mongo';
import { runNpmScript, stepRecord, useTestContext } from '@triggers/testing';
import { EventLogWriter } from '../../apps/log-sink/src/services/event-log.writer';
import { DeliveryStatsService, STATS_WINDOWS, StatsWindow } from '../../apps/triggers-api/src/stats/delivery-stats.service';

/**
 * The stats the log-sink keeps per trigger, on the embedded store: whatever happens to the batches
 * (written again after a crash before or after the stats, read again from an earlier offset, the
 * same fact logged twice at other offsets, two instances writing one partition at once), the
 * stats and the list's columns equal what the stored records say, computed from them directly.
 */
describe('trigger stats kept by the log-sink equal the stored records', () => {
  const ctx = useTestContext();
  const NOW = Date.now();
  const TRIGGERS = ['t1', 't2', 't3'];
  /** Records are keyed by trigger: each trigger's live in one partition. */
  const partitionOf = (triggerId: string) => TRIGGERS.indexOf(triggerId) % 2;
  const STEPS = [
    'matched',
    'webhook.delivered',
    'webhook.delivered',
    'webhook.delivered',
    'webhook.attempt',
    'webhook.gave_up',
    'webhook.blocked',
    'lead.moved',
  ];

  function random(seed: number): () => number {
    let s = seed;
    return () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648;
    };
  }

  /** The log topic: per partition, records in offset order; one in ten repeats an earlier fact (same log id) at a new offset. */
  function logTopic(tenantId: string, seed: number, count: number): Map<number, CountedRecord[]> {
    const rnd = random(seed);
    const topic = new Map<number, CountedRecord[]>([
      [0, []],
      [1, []],
    ]);
    const facts: LogRecord[] = [];
    for (let i = 0; i < count; i++) {
      const repeat = facts.length > 0 && rnd() < 0.1;
      const record: LogRecord = repeat
        ? facts[Math.floor(rnd() * facts.length)]
        : stepRecord({
            tenantId,
            logId: `log-${seed}-${i}`,
            triggerId: TRIGGERS[Math.floor(rnd() * TRIGGERS.length)],
            step: STEPS[Math.floor(rnd() * STEPS.length)],
            time: NOW - Math.floor(rnd() * 8 * 24 * HOUR),
            durationMs: 5 + Math.floor(rnd() * 40),
          });
      if (!repeat) facts.push(record);
      const partition = topic.get(partitionOf(record.triggerId!))!;
      partition.push({ record, offset: partition.length });
    }
    return topic;
  }

  /** The stats computed from the stored records themselves, as they were before the log-sink kept any. */
  function expectedStats(docs: EventLogDocument[], triggerId: string, window: StatsWindow) {
    const { ms, bucketMs } = STATS_WINDOWS[window];
    const buckets = ms / bucketMs;
    const first = NOW - (NOW % bucketMs) - (buckets - 1) * bucketMs;
    const series = Array.from({ length: buckets }, (_, i) => ({ t: new Date(first + i * bucketMs).toISOString(), delivered: 0, failed: 0 }));
    const durations: number[] = [];
    let gaveUp = 0;
    for (const d of docs) {
      if (d.triggerId !== triggerId || !d.step.startsWith('webhook.') || d.time.getTime() < first) continue;
      const ok = d.step === 'webhook.delivered';
      series[Math.floor((d.time.getTime() - first) / bucketMs)][ok ? 'delivered' : 'failed'] += 1;
      if (ok) durations.push(d.http!.durationMs!);
      if (d.step === 'webhook.gave_up') gaveUp += 1;
    }
    durations.sort((a, b) => a - b);
    const at = (q: number) => (durations.length === 0 ? null : durations[Math.min(durations.length - 1, Math.max(0, Math.ceil(q * durations.length) - 1))]);
    const delivered = series.reduce((n, b) => n + b.delivered, 0);
    const failedAttempts = series.reduce((n, b) => n + b.failed, 0);
    return { delivered, failedAttempts, gaveUp, latencyMs: { p50: at(0.5), p95: at(0.95) }, series };
  }

  async function writer() {
    const mongo = await ctx().mongo();
    const w = new EventLogWriter(mongo, { retentionMs: 90 * 24 * HOUR, cleanupIntervalMs: HOUR } as LogSinkConfig, ctx().logger);
    await w.ensureIndexes();
    return { mongo, w };
  }

  async function expectExact(mongo: Awaited<ReturnType<typeof writer>>['mongo'], tenantId: string) {
    const docs = await eventLogsCollection(mongo.db).find({ tenantId }).toArray();
    const stats = new DeliveryStatsService(mongo);
    for (const triggerId of TRIGGERS)
      for (const window of ['24h', '7d'] as const)
        expect({ triggerId, ...(await stats.stats(tenantId, triggerId, window)) }).toMatchObject({
          triggerId,
          window,
          ...expectedStats(docs, triggerId, window),
        });
    const health = await stats.health(tenantId, [...TRIGGERS, 'never-ran'], NOW);
    for (const triggerId of TRIGGERS) {
      const day = expectedStats(docs, triggerId, '24h');
      const mine = docs.filter((d) => d.triggerId === triggerId && d.step !== 'matched');
      const last = mine.reduce<EventLogDocument | undefined>((a, d) => (!a || d.time > a.time || (+d.time === +a.time && d._id > a._id) ? d : a), undefined);
      expect({ triggerId, ...health.get(triggerId) }).toEqual({
        triggerId,
        deliveries24h: expect.objectContaining({ delivered: day.delivered, failedAttempts: day.failedAttempts, gaveUp: day.gaveUp }),
        lastDelivery: last
          ? { logId: last._id, time: last.time.toISOString(), step: last.step, status: last.status, responseStatus: last.http?.responseStatus ?? null }
          : null,
      });
    }
    expect(health.get('never-ran')).toEqual({ deliveries24h: { delivered: 0, failedAttempts: 0, gaveUp: 0, successRatio: null }, lastDelivery: null });
  }

  it('counts every stored record once through crashes, replays from earlier offsets and repeated facts', async () => {
    const { mongo, w } = await writer();
    const rnd = random(7);
    for (const [partition, records] of logTopic('crashes', 7, 900)) {
      let committed = 0;
      while (committed < records.length) {
        const batch = records.slice(committed, committed + 1 + Math.floor(rnd() * 60));
        const fate = rnd();
        if (fate < 0.15) {
          // A crash after the records were stored, before their stats: the consumer reads the batch again.
          await eventLogsCollection(mongo.db)
            .insertMany(
              batch.map((b) => toEventLogDocument(b.record, { partition, offset: b.offset })),
              { ordered: false },
            )
            .catch(() => undefined);
          continue;
        }
        await w.write(batch, partition);
        // A crash after the stats, before the commit: the next batch starts earlier and reaches further.
        if (fate < 0.3) continue;
        committed += batch.length;
      }
    }
    await expectExact(mongo, 'crashes');
  });

  it('stays exact when two instances write one partition at once (a rebalance one has not noticed yet)', async () => {
    const { mongo, w } = await writer();
    const other = new EventLogWriter(mongo, { retentionMs: 90 * 24 * HOUR } as LogSinkConfig, ctx().logger);
    for (const [partition, records] of logTopic('two-writers', 11, 400)) {
      // The instance that lost the partition writes its batch while the new owner starts again from the committed offset.
      for (let i = 0; i < records.length; i += 25) {
        await Promise.all([w.write(records.slice(i, i + 25), partition), other.write(records.slice(Math.max(0, i - 10), i + 40), partition)]);
      }
    }
    await expectExact(mongo, 'two-writers');
    // Superseded versions are removed as they are replaced: about one per document is left.
    const stats = await triggerStatsCollection(mongo.db).find({ tenantId: 'two-writers' }).toArray();
    expect(stats.length).toBeGreaterThan(0);
    expect(stats.length).toBeLessThan(1.5 * new Set(stats.map((d) => d.key)).size);
  });

  it('counts records stored before the stats existed once, with the operator recount, beside what the log-sink counts', async () => {
    const { mongo, w } = await writer();
    const topic = logTopic('upgraded', 13, 400);
    // The first half was stored by a version that kept no stats (no source); the rest by the log-sink.
    for (const [partition, records] of topic) {
      const half = Math.floor(records.length / 2);
      await eventLogsCollection(mongo.db)
        .insertMany(
          records.slice(0, half).map((r) => toEventLogDocument(r.record)),
          { ordered: false },
        )
        .catch(() => undefined);
      for (let i = half; i < records.length; i += 30) await w.write(records.slice(i, i + 30), partition);
    }
    expect((await recountEarlierRecords(mongo.db, NOW)).records).toBeGreaterThan(0);
    await expectExact(mongo, 'upgraded');
    // Again, as the operator's command: it replaces what the first run counted.
    const again = await runNpmScript('admin', ['stats', 'recount'], ctx().env);
    expect(again).toMatchObject({ code: 0, stderr: expect.stringMatching(/^counted \d+ records stored before the stats into \d+ documents in \d+ s$/m) });
    await expectExact(mongo, 'upgraded');
  });
});
