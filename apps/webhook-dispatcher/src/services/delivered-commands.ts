import { randomUUID } from 'node:crypto';
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { DispatcherConfig } from '@triggers/config';
import { HEADERS } from '@triggers/contracts';
import { ConsumerStatus, SupervisedConsumer, onBatchEnd } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import { APP_CONFIG, APP_LOGGER, HEALTH_CHECKS, HealthRegistry, KAFKA, METRICS_REGISTRY } from '@triggers/runtime';

/** Most deliveries remembered at once; the oldest go first. */
const MAX_REMEMBERED = 200_000;

/**
 * The `webhook.delivered` facts of the last few retry delays, by log id (one per command and
 * delivery window): this instance's own, and every instance's as read from the log topic it
 * writes (headers only, from `3 × retry delay` ago at start). A retry or a repeated attempt of a
 * command already delivered is dropped instead of being delivered again (issue: a dispatcher
 * killed between producing a retry and committing the attempt that caused it repeats the attempt,
 * which may then succeed, leaving a stale retry). Bounded by age and by count.
 */
@Injectable()
export class DeliveredCommands implements OnApplicationShutdown {
  /** Log id → when it may be forgotten; Map order is insertion order, so the oldest come first. */
  private readonly delivered = new Map<string, number>();
  private readonly keepMs: number;
  private readonly status: ConsumerStatus;
  private readonly reader: SupervisedConsumer;
  /** The log topic's end offsets when reading began, by partition, until the reader gets there. */
  private ends?: Map<number, bigint>;
  private caughtUp!: () => void;
  private isReady = false;
  private readonly readyPromise = new Promise<void>((resolve) => (this.caughtUp = resolve));

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(APP_CONFIG) private readonly config: DispatcherConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(HEALTH_CHECKS) health: HealthRegistry,
  ) {
    this.keepMs = 3 * config.webhook.retryDelayMs;
    const groupId = `${config.groupId}-delivered-${randomUUID()}`;
    this.status = new ConsumerStatus(groupId, registry);
    const topic = config.kafka.topics.log;
    this.reader = new SupervisedConsumer({
      kafka,
      groupId,
      logger,
      status: this.status,
      // Every record of the log topic comes here, for the few that are deliveries. The broker
      // gathers up to 256 KB or half a second per fetch rather than answering each new record at
      // once: that cut the broker's CPU per delivery by a third in the dispatcher bench.
      maxWaitTimeInMs: 500,
      minBytes: 256 * 1024,
      onJoin: (assigned) => void this.seekToWindow(assigned[topic] ?? []),
      run: async (consumer) => {
        await consumer.subscribe({ topic, fromBeginning: false });
        onBatchEnd(consumer, ({ partition, next }) => this.reached(partition, next));
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              if (m.headers?.[HEADERS.logStep]?.toString() === 'webhook.delivered') {
                const id = m.headers[HEADERS.logId]?.toString();
                if (id) this.remember(id, Number(m.timestamp));
              }
            }
          },
        });
      },
    });
    health.register({
      name: 'deliveredCommands',
      check: async () => ({ ok: true, detail: { remembered: this.delivered.size } }),
      live: () => this.status.alive,
    });
  }

  /** Starts following the log topic from `3 × retry delay` ago. */
  start(): Promise<void> {
    return this.reader.start();
  }

  /**
   * Resolves once the deliveries the log topic held at start are read. Retries wait for it (a
   * retry is what may be stale); first attempts do not, so a long window never delays start-up.
   */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  private async seekToWindow(partitions: number[]): Promise<void> {
    const admin = this.kafka.admin();
    const topic = this.config.kafka.topics.log;
    try {
      await admin.connect();
      const from = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - this.keepMs);
      const ends = await admin.fetchTopicOffsets(topic);
      if (!this.ends) {
        this.ends = new Map(ends.filter((e) => partitions.includes(e.partition) && BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
      }
      for (const { partition, offset } of from) if (partitions.includes(partition)) this.reader.consumer?.seek({ topic, partition, offset });
      this.reached(-1, 0n);
    } catch (err) {
      this.logger.warn({ err }, 'could not seek the delivered-commands reader into the retry window; it follows from now');
      this.caughtUp();
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private reached(partition: number, next: bigint): void {
    if (!this.ends || this.isReady) return;
    const end = this.ends.get(partition);
    if (end !== undefined && next >= end) this.ends.delete(partition);
    if (this.ends.size === 0) {
      this.isReady = true;
      this.caughtUp();
      this.logger.info({ remembered: this.delivered.size }, 'recent deliveries read from the log topic');
    }
  }

  /** Remembers a delivery (by the log id of its `webhook.delivered` record) made at `at`. */
  remember(logId: string, at = Date.now()): void {
    const until = at + this.keepMs;
    if (until <= Date.now()) return;
    this.delivered.delete(logId);
    this.delivered.set(logId, until);
    this.forget();
  }

  /** True when that delivery happened within the window. */
  has(logId: string): boolean {
    const until = this.delivered.get(logId);
    return until !== undefined && until > Date.now();
  }

  private forget(): void {
    const now = Date.now();
    for (const [id, until] of this.delivered) {
      if (until > now && this.delivered.size <= MAX_REMEMBERED) break;
      this.delivered.delete(id);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.reader.stop();
  }
}
