import { retryWithBackoff } from '@triggers/errors';
import type { Consumer, ConsumerConfig, Kafka } from 'kafkajs';
import type { Logger } from '@triggers/logging';
import type { ConsumerStatus } from './consumer-status';

/** Options of a {@link SupervisedConsumer}. */
/** Where a fetched batch of a partition ended. */
export interface BatchEnd {
  topic: string;
  partition: number;
  /** The offset after the batch, transaction markers included. */
  next: bigint;
  /** Records handed to eachBatch: 0 for a fetch of transaction markers (or aborted records) only. */
  records: number;
}

/**
 * Calls `each` after every fetched batch of a partition: after those eachBatch handled, and after
 * a fetch of transaction markers (or aborted records) only, which reaches no eachBatch. Readers of
 * a transactional topic move past such a fetch with it, or their position (their committed
 * offset, the lag KEDA scales on) never reaches the partition's end.
 */
export function onBatchEnd(consumer: Consumer, each: (end: BatchEnd) => void): void {
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) =>
    each({ topic: payload.topic, partition: payload.partition, next: BigInt(payload.lastOffset) + 1n, records: payload.batchSize }),
  );
}

/**
 * True when `work` settles within `ms`, false when it is still running then (it goes on in the
 * background, its outcome ignored): for a stop that must not hang on a dependency that is down.
 */
export async function finishedWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a stop waits for the consumer to finish its batch and leave its group (the apps allow 30 s for the whole shutdown). */
const STOP_TIMEOUT_MS = 10_000;

export interface SupervisedConsumerOptions {
  kafka: Kafka;
  groupId: string;
  logger: Logger;
  status: ConsumerStatus;
  /** Subscribes the consumer it is given and runs it (`consumer.run`); called at every (re)start. */
  run: (consumer: Consumer) => Promise<void>;
  sessionTimeoutMs?: number;
  maxWaitTimeInMs?: number;
  /** Bytes the broker gathers before answering a fetch (or until `maxWaitTimeInMs`); 1 answers at once. */
  minBytes?: number;
  /** `read_committed` unless false. */
  readCommitted?: boolean;
  /** Runs on every (re)join, before the first batch of the new generation. */
  onJoin?: (assigned: Record<string, number[]>) => void;
  /** First and longest wait between restarts. */
  restartMinMs?: number;
  restartMaxMs?: number;
  /** How long restarts may keep failing, with no successful join, before /livez fails (default 5 minutes). */
  giveUpAfterMs?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * A kafkajs group consumer that never dies silently. kafkajs stops a consumer for good on a
 * non-retriable error (`CRASH` with `restart: false`, e.g. an exception out of a batch) and, left
 * to itself, retries a failing rejoin without end; here every crash and every unexpected stop
 * comes to the engine, which disconnects and starts a fresh consumer with capped backoff. When
 * restarts keep failing for `giveUpAfterMs` with no successful join, the consumer is given up:
 * its status turns not alive, so /livez fails and the orchestrator restarts the process.
 * The heartbeat is a tenth of the session timeout; the assignment is tracked for /healthz.
 */
export class SupervisedConsumer {
  private current?: Consumer;
  private assigned?: Record<string, number[]>;
  private stopping = false;
  private restarting?: Promise<void>;
  /** A stop seen while a restart was under way: restart again once it is done. */
  private restartAfter?: unknown;
  /** When restarts began failing with no join since (undefined while healthy). */
  private failingSince?: number;
  /** Wait before the next restart: doubles while restarts keep failing, reset by a join. */
  private restartDelay?: number;

  constructor(private readonly options: SupervisedConsumerOptions) {}

  /** The consumer running now (a restart replaces it). */
  get consumer(): Consumer | undefined {
    return this.current;
  }

  /** The partitions owned, by topic; undefined while joining, rebalancing or restarting. */
  assignment(): Record<string, number[]> | undefined {
    return this.assigned;
  }

  /** Starts the consumer, retrying with backoff until it runs (or {@link stop} is called). */
  async start(): Promise<void> {
    await retryWithBackoff(() => this.startOnce(), {
      firstMs: this.options.restartMinMs ?? 500,
      maxMs: this.options.restartMaxMs ?? 30_000,
      stopped: () => this.stopping,
      onFailure: (err, retryInMs) => {
        this.failingSince ??= Date.now();
        if (this.gaveUp(err)) return false;
        this.options.logger.warn({ err, groupId: this.options.groupId, retryInMs }, 'consumer could not start; retrying');
      },
    });
  }

  private async startOnce(): Promise<void> {
    const { kafka, groupId } = this.options;
    const sessionTimeout = this.options.sessionTimeoutMs ?? 30_000;
    const config: ConsumerConfig = {
      groupId,
      readUncommitted: this.options.readCommitted === false,
      maxWaitTimeInMs: this.options.maxWaitTimeInMs ?? 1000,
      minBytes: this.options.minBytes ?? 1,
      sessionTimeout,
      heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)),
      // Every crash comes to this supervisor, which restarts and counts, rather than kafkajs
      // restarting retriable ones on its own without end and stopping the rest for good.
      retry: { restartOnFailure: async () => false },
    };
    const consumer = kafka.consumer(config);
    this.current = consumer;
    const { GROUP_JOIN, REBALANCING, STOP, CRASH } = consumer.events;
    consumer.on(GROUP_JOIN, (e) => {
      this.assigned = e.payload.memberAssignment;
      this.failingSince = undefined;
      this.restartDelay = undefined;
      this.options.onJoin?.(this.assigned);
    });
    consumer.on(REBALANCING, () => (this.assigned = undefined));
    consumer.on(CRASH, (e) => {
      this.assigned = undefined;
      if (consumer === this.current) this.restart(e.payload.error);
    });
    consumer.on(STOP, () => {
      this.assigned = undefined;
      if (consumer === this.current && !this.stopping) this.restart(new Error('the consumer stopped without being asked to'));
    });
    try {
      await consumer.connect();
      await this.options.run(consumer);
    } catch (err) {
      this.current = undefined;
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  private gaveUp(err: unknown): boolean {
    const limit = this.options.giveUpAfterMs ?? 300_000;
    if (this.failingSince === undefined || Date.now() - this.failingSince < limit) return false;
    const reason = `consumer of group ${this.options.groupId} could not be restarted for ${Math.round(limit / 1000)} s: ${(err as Error)?.message ?? String(err)}`;
    this.options.status.gaveUp(reason);
    this.options.logger.fatal({ err, groupId: this.options.groupId }, `${reason}; /livez now fails`);
    return true;
  }

  private restart(cause: unknown): void {
    if (this.stopping) return;
    if (this.restarting) {
      // The consumer a restart just started stopped too (a join refused): once more after it.
      this.restartAfter = cause;
      return;
    }
    this.failingSince ??= Date.now();
    this.options.status.restarted();
    this.options.logger.error({ err: cause, groupId: this.options.groupId }, 'consumer stopped; its engine restarts it');
    this.restarting = (async () => {
      const old = this.current;
      this.current = undefined;
      await old?.disconnect().catch(() => undefined);
      if (this.gaveUp(cause)) return;
      const delay = this.restartDelay ?? this.options.restartMinMs ?? 500;
      this.restartDelay = Math.min(delay * 2, this.options.restartMaxMs ?? 30_000);
      await sleep(delay);
      if (this.stopping) return;
      await this.start();
    })().finally(() => {
      this.restarting = undefined;
      const again = this.restartAfter;
      this.restartAfter = undefined;
      if (again !== undefined) this.restart(again);
    });
  }

  /**
   * Leaves the group and stops; no restart follows. Leaving waits for the batch in hand, whose
   * commit can hang on a broker or coordinator that is down: after `timeoutMs` the stop goes on
   * without it. Nothing is lost: the batch was not committed, so the partition's next owner does
   * it again once this member's session times out (an open transaction is aborted by its fencing).
   */
  async stop(timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
    this.stopping = true;
    // A restart under way (a disconnect, its backoff, a connect to a broker that is down) is
    // waited for as long as leaving would be, no longer.
    if (this.restarting && !(await finishedWithin(this.restarting, timeoutMs)))
      this.options.logger.warn({ groupId: this.options.groupId, timeoutMs }, 'a restart of the consumer was still under way; stopping without it');
    const consumer = this.current;
    this.current = undefined;
    if (!consumer) return;
    if (!(await finishedWithin(consumer.disconnect(), timeoutMs)))
      this.options.logger.warn(
        { groupId: this.options.groupId, timeoutMs },
        'the consumer did not leave its group in time (a broker or coordinator down?); its partitions go to the others when its session times out, and they do its unfinished work again',
      );
  }
}
