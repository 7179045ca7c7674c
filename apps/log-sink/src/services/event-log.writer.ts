import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Collection, MongoBulkWriteError } from 'mongodb';
import type { LogSinkConfig } from '@triggers/config';
import { TransientError } from '@triggers/errors';
import type { Logger } from '@triggers/logging';
import {
  CountedRecord,
  EventLogDocument,
  MongoHandle,
  ensureEventLogIndexes,
  ensureTriggerStatsIndexes,
  eventLogsCollection,
  recordEndpointHealth,
  recordTriggerStats,
  removeTriggerStatsBefore,
  toEventLogDocument,
} from '@triggers/mongo';
import { APP_CONFIG, APP_LOGGER, MONGO } from '@triggers/runtime';

/**
 * Writes log records into `event_logs`, then counts them in the triggers' stats and summaries.
 * A record's id is its `_id` and records never change, so a batch written twice (after a crash
 * before the offset commit) meets duplicate-key errors for the records already there, which are
 * expected and skipped: one document per record. (An unordered insert is ~40x faster on FerretDB
 * than upserts.) The stats count each stored record once (`libs/mongo`'s trigger-stats).
 */
@Injectable()
export class EventLogWriter implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logs: Collection<EventLogDocument>;
  private readonly db: MongoHandle['db'];
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(MONGO) mongo: MongoHandle,
    @Inject(APP_CONFIG) private readonly config: LogSinkConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {
    this.logs = eventLogsCollection(mongo.db);
    this.db = mongo.db;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.ensureIndexes().catch((err: unknown) => this.logger.warn({ err }, 'could not create event log indexes yet; retrying at the next cleanup'));
    this.timer = setInterval(() => void this.cleanup(), this.config.cleanupIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /**
   * The Event Logs view's indexes, and a TTL index where the server supports one; where it does
   * not (FerretDB), the same index without expiry, which serves the periodic cleanup's deletes.
   */
  async ensureIndexes(): Promise<void> {
    await ensureEventLogIndexes(this.logs);
    await ensureTriggerStatsIndexes(this.db);
    await this.logs
      .createIndex({ time: 1 }, { expireAfterSeconds: Math.floor(this.config.retentionMs / 1000), name: 'retention' })
      .catch(async (err: unknown) => {
        this.logger.info({ err }, 'no TTL index on this server; the periodic cleanup keeps the retention');
        await this.logs.createIndex({ time: 1 }, { name: 'retention' });
      });
  }

  /** Removes records and stats older than the retention (the TTL index does the records too where it exists). */
  async cleanup(): Promise<number> {
    try {
      const before = Date.now() - this.config.retentionMs;
      const r = await this.logs.deleteMany({ time: { $lt: new Date(before) } });
      const stats = await removeTriggerStatsBefore(this.db, before);
      if (r.deletedCount + stats > 0) this.logger.info({ deleted: r.deletedCount, stats }, 'event logs past the retention removed');
      return r.deletedCount;
    } catch (err) {
      this.logger.warn({ err }, 'event log cleanup failed; next round will retry');
      return 0;
    }
  }

  /**
   * Stores one partition's batch and counts what it stored: inserts the records in one unordered
   * bulk write (records already stored are skipped), then counts in the stats those it stored
   * now or at this same place before.
   */
  async write(batch: CountedRecord[], partition: number): Promise<{ inserted: number; alreadyStored: number; statsWritten: number }> {
    if (batch.length === 0) return { inserted: 0, alreadyStored: 0, statsWritten: 0 };
    const { inserted, duplicates } = await this.insert(batch, partition);
    const counted = duplicates.length === 0 ? batch : await this.storedHere(batch, duplicates, partition);
    const statsWritten = await recordTriggerStats(this.db, counted, partition, batch[batch.length - 1].offset, Date.now());
    await recordEndpointHealth(
      this.db,
      batch.map((b) => b.record),
    );
    return { inserted, alreadyStored: duplicates.length, statsWritten };
  }

  /** The batch without the duplicates whose stored record came from another place of the topic (the same fact logged twice). */
  private async storedHere(batch: CountedRecord[], duplicates: number[], partition: number): Promise<CountedRecord[]> {
    const ids = duplicates.map((i) => batch[i].record.logId);
    const stored = await this.logs.find({ _id: { $in: ids } }, { projection: { source: 1 } }).toArray();
    const sources = new Map(stored.map((d) => [d._id, d.source]));
    const elsewhere = new Set(
      duplicates.filter((i) => {
        const s = sources.get(batch[i].record.logId);
        return !s || s.partition !== partition || s.offset !== batch[i].offset;
      }),
    );
    return batch.filter((_, i) => !elsewhere.has(i));
  }

  /** Inserts the records in one unordered bulk write; returns how many were stored and the indexes of those already there. */
  private async insert(batch: CountedRecord[], partition: number): Promise<{ inserted: number; duplicates: number[] }> {
    try {
      const r = await this.logs.insertMany(
        batch.map((b) => toEventLogDocument(b.record, { partition, offset: b.offset })),
        { ordered: false },
      );
      return { inserted: r.insertedCount, duplicates: [] };
    } catch (err) {
      if (!(err instanceof MongoBulkWriteError)) throw err;
      const errors = (Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]).filter((e) => e);
      // Success only when every record is accounted for: inserted now or already there. A bulk
      // error without per-document errors (a server that went away) is a failure to retry; one
      // with other per-document errors is read by classify (a refused document is poison).
      if (errors.length === 0)
        throw new TransientError(`event log write interrupted: ${err.message}`, { cause: err, dependency: 'mongodb', code: 'mongodb.interrupted' });
      const duplicates = errors.filter((e) => e.code === 11000);
      if (duplicates.length !== errors.length || err.insertedCount + duplicates.length !== batch.length) throw err;
      return { inserted: err.insertedCount, duplicates: duplicates.map((e) => e.index) };
    }
  }
}
