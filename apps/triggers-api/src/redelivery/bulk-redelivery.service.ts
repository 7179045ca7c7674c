import { randomUUID } from 'node:crypto';
import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Collection } from 'mongodb';
import type { Caller } from '@triggers/access';
import type { ApiConfig } from '@triggers/config';
import type { WebhookCommand } from '@triggers/contracts';
import type { Logger } from '@triggers/logging';
import { EventLogDocument, MongoHandle, eventLogsCollection, failedRecordsIn } from '@triggers/mongo';
import { APP_CONFIG, APP_LOGGER, MONGO } from '@triggers/runtime';
import { ApiError, notFound } from '../http/api-errors';
import { CommandProducer } from './command-producer.service';
import { TriggerRepository } from '../trigger-store/trigger.repository';
import { redeliveryOf, windowOf } from './webhook-sends.service';
import { WebhookUrls } from '../http/webhook-urls';

/** Which failures a bulk redelivery sends again. */
export type BulkSelection = 'failed' | 'gave_up';

/** Log steps of a failed attempt, by selection. */
export const SELECTION_STEPS: Record<BulkSelection, string[]> = {
  failed: ['webhook.attempt', 'webhook.gave_up'],
  gave_up: ['webhook.gave_up'],
};

/** A bulk redelivery as stored in `jobs` and shown by `GET /v1/jobs/:jobId`. */
export interface JobDocument {
  _id: string;
  tenantId: string;
  triggerId: string;
  kind: 'redeliver';
  state: 'running' | 'done' | 'failed';
  request: { status: BulkSelection; from: Date; to: Date };
  /** Commands selected (one per command, however many of its attempts failed). */
  total: number | null;
  redelivered: number;
  /** Commands delivered since, or whose URL is refused today. */
  skipped: number;
  /** Commands past BULK_REDELIVERY_MAX_COMMANDS, not sent. */
  leftOut: number;
  /** The commands are sent in id order; everything up to this one is done (a restarted API goes on after it). */
  cursor: string | null;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export const JOBS_COLLECTION = 'jobs';
/** A running job not updated for this long belongs to an API that stopped; another one takes it over. */
const LEASE_MS = 30_000;
const CHUNK = 200;

/**
 * Bulk redelivery: every command of a trigger whose attempts failed (or gave up) in a time range
 * is sent again once, from its latest failed attempt, as a new command with origin `bulk`. Runs
 * in the background as a job stored in MongoDB with its progress; one running job per tenant; a
 * job of an API that stopped is taken over (commands are sent in id order and the job records how
 * far it got, so a takeover repeats at most one chunk, which receivers see with the same `webhook-id`).
 */
@Injectable()
export class BulkRedeliveryService implements OnModuleInit, OnApplicationShutdown {
  private readonly jobs: Collection<JobDocument>;
  private readonly logs: Collection<EventLogDocument>;
  private readonly running = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private stopping = false;

  constructor(
    @Inject(MONGO) mongo: MongoHandle,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly commands: CommandProducer,
    private readonly urls: WebhookUrls,
    private readonly triggers: TriggerRepository,
  ) {
    this.jobs = mongo.db.collection<JobDocument>(JOBS_COLLECTION);
    this.logs = eventLogsCollection(mongo.db);
  }

  onModuleInit(): void {
    void this.jobs.createIndex({ tenantId: 1, state: 1 }).catch(() => undefined);
    // Jobs left running by an API that stopped are taken over.
    this.timer = setInterval(() => void this.takeOver(), LEASE_MS / 2);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await Promise.all([...this.running]);
  }

  /** Starts a job; 409 while another of the tenant's is running. */
  async start(caller: Caller, triggerId: string, request: JobDocument['request']): Promise<{ jobId: string }> {
    const busy = await this.jobs.findOne({ tenantId: caller.tenantId, state: 'running' }, { projection: { _id: 1 } });
    if (busy) throw new ApiError(409, `a bulk redelivery is already running for this tenant (${busy._id}); wait for it to finish`);
    const now = new Date();
    const job: JobDocument = {
      _id: `job_${randomUUID()}`,
      tenantId: caller.tenantId,
      triggerId,
      kind: 'redeliver',
      state: 'running',
      request,
      total: null,
      redelivered: 0,
      skipped: 0,
      leftOut: 0,
      cursor: null,
      error: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.jobs.insertOne(job);
    this.launch(job);
    return { jobId: job._id };
  }

  /** A job of the caller's tenant. */
  async get(caller: Caller, jobId: string) {
    const job = await this.jobs.findOne({ _id: jobId, tenantId: caller.tenantId });
    if (!job) throw notFound('job');
    return {
      jobId: job._id,
      kind: job.kind,
      triggerId: job.triggerId,
      state: job.state,
      request: { status: job.request.status, from: job.request.from.toISOString(), to: job.request.to.toISOString() },
      total: job.total,
      redelivered: job.redelivered,
      skipped: job.skipped,
      leftOut: job.leftOut,
      error: job.error,
      createdAt: job.createdAt.toISOString(),
      updatedAt: job.updatedAt.toISOString(),
    };
  }

  private launch(job: JobDocument): void {
    const run = this.run(job)
      .catch(async (err: Error) => {
        this.logger.error({ err, jobId: job._id }, 'bulk redelivery failed');
        await this.jobs.updateOne({ _id: job._id }, { $set: { state: 'failed', error: err.message, updatedAt: new Date() } }).catch(() => undefined);
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  private async takeOver(): Promise<void> {
    if (this.stopping) return;
    const stale = new Date(Date.now() - LEASE_MS);
    const job = await this.jobs
      .findOneAndUpdate({ state: 'running', updatedAt: { $lt: stale } }, { $set: { updatedAt: new Date() } }, { returnDocument: 'after' })
      .catch(() => null);
    if (job) {
      this.logger.info({ jobId: job._id, cursor: job.cursor }, 'bulk redelivery taken over');
      this.launch(job);
    }
  }

  /** The latest failed record of each command in the range, by command id. */
  private async selection(job: JobDocument): Promise<Map<string, { logId: string; time: number }>> {
    const { status, from, to } = job.request;
    const latest = new Map<string, { logId: string; time: number }>();
    for await (const d of failedRecordsIn(this.logs, { tenantId: job.tenantId, triggerId: job.triggerId, from, to, steps: SELECTION_STEPS[status] })) {
      if (!d.commandId) continue;
      const t = d.time.getTime();
      const seen = latest.get(d.commandId);
      if (!seen || t > seen.time) latest.set(d.commandId, { logId: d._id, time: t });
    }
    return latest;
  }

  private async run(job: JobDocument): Promise<void> {
    const selected = await this.selection(job);
    let entries = [...selected];
    let leftOut = 0;
    if (entries.length > this.config.bulkRedeliveryMaxCommands) {
      // The newest commands when there are more than a job may send.
      entries.sort((a, b) => b[1].time - a[1].time);
      leftOut = entries.length - this.config.bulkRedeliveryMaxCommands;
      entries = entries.slice(0, this.config.bulkRedeliveryMaxCommands);
    }
    const ids = entries.map(([commandId]) => commandId).sort();
    await this.jobs.updateOne({ _id: job._id }, { $set: { total: ids.length, leftOut, updatedAt: new Date() } });
    let { redelivered, skipped } = job;
    const todo = job.cursor ? ids.filter((id) => id > job.cursor!) : ids;
    for (let i = 0; i < todo.length && !this.stopping; i += CHUNK) {
      const chunk = todo.slice(i, i + CHUNK);
      const logIds = chunk.map((c) => selected.get(c)!.logId);
      const [records, deliveredSince] = await Promise.all([
        this.logs.find({ _id: { $in: logIds }, tenantId: job.tenantId }).toArray(),
        this.logs.find({ tenantId: job.tenantId, commandId: { $in: chunk }, step: 'webhook.delivered' }, { projection: { commandId: 1, time: 1 } }).toArray(),
      ]);
      const byId = new Map(records.map((r) => [r._id, r]));
      const now = Date.now();
      // The window as the trigger sets it now (read per chunk: it may change while the job runs).
      const trigger = await this.triggers.find(job.tenantId, job.triggerId);
      const commands: WebhookCommand[] = [];
      for (const commandId of chunk) {
        const record = byId.get(selected.get(commandId)!.logId);
        const command = record && redeliveryOf(record, 'bulk', now, windowOf(trigger, record.http?.url ?? ''));
        // Delivered since it failed (a later retry, or a redelivery): nothing to recover.
        const delivered = record && deliveredSince.some((d) => d.commandId === commandId && d.time >= record.time);
        if (!command || delivered || this.urls.refused(command.url)) skipped++;
        else commands.push(command);
      }
      if (commands.length > 0) await this.commands.send(commands);
      redelivered += commands.length;
      await this.jobs.updateOne({ _id: job._id }, { $set: { redelivered, skipped, cursor: chunk[chunk.length - 1], updatedAt: new Date() } });
    }
    if (this.stopping) return;
    await this.jobs.updateOne({ _id: job._id }, { $set: { state: 'done', redelivered, skipped, updatedAt: new Date() } });
    this.logger.info({ jobId: job._id, tenantId: job.tenantId, triggerId: job.triggerId, redelivered, skipped, leftOut }, 'bulk redelivery done');
  }
}
