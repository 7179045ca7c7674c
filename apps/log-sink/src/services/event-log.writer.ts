import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Collection, MongoBulkWriteError } from 'mongodb';
import type { LogSinkConfig } from '@triggers/config';
import type { LogRecord } from '@triggers/contracts';
import { TransientError } from '@triggers/errors';
import type { Logger } from '@triggers/logging';
import { EventLogDocument, MongoHandle, ensureEventLogIndexes, eventLogsCollection, toEventLogDocument } from '@triggers/mongo';
import { APP_CONFIG, APP_LOGGER, MONGO } from '@triggers/runtime';

/**
 * Writes log records into `event_logs`. A record's id is its `_id` and records never change, so
 * a batch written twice (after a crash before the offset commit) meets duplicate-key errors for
 * the records already there, which are expected and skipped: one document per record. (An
 * unordered insert is ~40x faster on FerretDB than upserts.)
 */
@Injectable()
export class EventLogWriter implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logs: Collection<EventLogDocument>;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(MONGO) mongo: MongoHandle,
    @Inject(APP_CONFIG) private readonly config: LogSinkConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {
    this.logs = eventLogsCollection(mongo.db);
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
    await this.logs
      .createIndex({ time: 1 }, { expireAfterSeconds: Math.floor(this.config.retentionMs / 1000), name: 'retention' })
      .catch(async (err: unknown) => {
        this.logger.info({ err }, 'no TTL index on this server; the periodic cleanup keeps the retention');
        await this.logs.createIndex({ time: 1 }, { name: 'retention' });
      });
  }

  /** Removes records older than the retention (the TTL index does it too where it exists). */
  async cleanup(): Promise<number> {
    try {
      const r = await this.logs.deleteMany({ time: { $lt: new Date(Date.now() - this.config.retentionMs) } });
      if (r.deletedCount > 0) this.logger.info({ deleted: r.deletedCount }, 'event logs past the retention removed');
      return r.deletedCount;
    } catch (err) {
      this.logger.warn({ err }, 'event log cleanup failed; next round will retry');
      return 0;
    }
  }

  /** Inserts the records in one unordered bulk write; records already stored are skipped. */
  async write(records: LogRecord[]): Promise<{ inserted: number; alreadyStored: number }> {
    if (records.length === 0) return { inserted: 0, alreadyStored: 0 };
    try {
      const r = await this.logs.insertMany(records.map(toEventLogDocument), { ordered: false });
      return { inserted: r.insertedCount, alreadyStored: 0 };
    } catch (err) {
      if (!(err instanceof MongoBulkWriteError)) throw err;
      const errors = (Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]).filter((e) => e);
      // Success only when every record is accounted for: inserted now or already there. A bulk
      // error without per-document errors (a server that went away) is a failure to retry; one
      // with other per-document errors is read by classify (a refused document is poison).
      if (errors.length === 0)
        throw new TransientError(`event log write interrupted: ${err.message}`, { cause: err, dependency: 'mongodb', code: 'mongodb.interrupted' });
      const duplicates = errors.filter((e) => e.code === 11000).length;
      if (duplicates !== errors.length || err.insertedCount + duplicates !== records.length) throw err;
      return { inserted: err.insertedCount, alreadyStored: duplicates };
    }
  }
}
