import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { ConsumerStatus } from './consumer-status';
import type { MessageSource } from './dead-letters';
import { SupervisedConsumer, onBatchEnd } from './group-consumer';
import { AbandonedError, ConsumerEngineOptions, KeepAlive, MessageJudge } from './message-judge';
import { LazyProducer } from './producers';

/** Options of a {@link WindowedConsumer}. */
export interface WindowedConsumerOptions<T> extends ConsumerEngineOptions<T> {
  /**
   * Handles one decoded message. A transient error is waited out and the message tried again in
   * place (no offset at or after it is committed meanwhile); anything else dead-letters it.
   */
  handle: (value: T, message: KafkaMessage, source: MessageSource) => Promise<void>;
  /** Messages taken and not finished, across all partitions; reading waits while at the cap. */
  maxInFlight: number;
  /**
   * When a message may be handled (epoch ms), for delay topics; null means now. A partition
   * whose next message is not yet due is paused until it is.
   */
  dueAt?: (message: KafkaMessage, source: MessageSource) => number | null;
  /** How often finished offsets are committed. */
  commitIntervalMs?: number;
  maxWaitTimeInMs?: number;
}

/**
 * The messages of one partition taken in this assignment, in offset order. The committable
 * offset is the lowest unfinished one, so a crash redelivers whatever was not finished (and
 * possibly some finished messages after it: at-least-once).
 */
class PartitionWindow {
  /** Offsets taken, oldest first; `done` marks finished ones. */
  private readonly taken: { offset: bigint; done: boolean }[] = [];
  private readonly byOffset = new Map<bigint, { offset: bigint; done: boolean }>();
  /** The offset after the last one read from this partition. */
  next = -1n;
  committed = -1n;
  revoked = false;
  resumeTimer?: NodeJS.Timeout;
  resumeAt = 0;

  constructor(readonly source: MessageSource) {}

  take(offset: bigint): void {
    const entry = { offset, done: false };
    this.taken.push(entry);
    this.byOffset.set(offset, entry);
    this.next = offset + 1n;
  }

  finish(offset: bigint): void {
    const entry = this.byOffset.get(offset);
    if (!entry) return;
    entry.done = true;
    this.byOffset.delete(offset);
    let head = 0;
    while (head < this.taken.length && this.taken[head].done) head++;
    if (head > 0) this.taken.splice(0, head);
  }

  /** The offset to commit: the lowest unfinished message, else everything read so far. */
  committable(): bigint {
    return this.taken.length > 0 ? this.taken[0].offset : this.next;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * At-least-once consumption with many messages in flight at once, across and within partitions:
 * a slow message holds back only the committed offset of its partition, never the handling of
 * the messages after it. Offsets are committed up to the lowest unfinished message of each
 * partition. For delay topics, `dueAt` pauses a partition until its head message is due: every
 * message of one delay topic waits the same time, so each partition is ordered by due time and
 * only its head needs watching (no sleeping in handlers, no polling; heartbeats keep flowing).
 */
export class WindowedConsumer<T> {
  readonly status: ConsumerStatus;
  private readonly judge: MessageJudge<T>;
  private readonly group: SupervisedConsumer;
  /** Sends dead letters; connected on first use. */
  private readonly producer: LazyProducer;
  private readonly windows = new Map<string, PartitionWindow>();
  private inFlight = 0;
  private slotFreed?: () => void;
  private commitTimer?: NodeJS.Timeout;
  private stopping = false;
  private committing?: Promise<void>;

  constructor(private readonly options: WindowedConsumerOptions<T>) {
    this.status = new ConsumerStatus(options.groupId, options.metrics);
    this.judge = new MessageJudge({ ...options, status: this.status });
    this.producer = new LazyProducer(options.kafka);
    this.group = new SupervisedConsumer({
      ...options,
      status: this.status,
      maxWaitTimeInMs: options.maxWaitTimeInMs ?? 250,
      onJoin: (assigned) => this.onJoin(assigned),
      run: async (consumer) => {
        for (const topic of options.topics) await consumer.subscribe({ topic, fromBeginning: true });
        // A fetch of markers only: the window moves past it, so the committed offset can reach
        // the end of a transactional topic. Batches of a partition come one after the other.
        onBatchEnd(consumer, ({ topic, partition, next, records }) => {
          if (records > 0 || this.stopping || !this.group.assignment()?.[topic]?.includes(partition)) return;
          const w = this.window({ topic, partition });
          if (!w.revoked && next > w.next) w.next = next;
        });
        await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.processBatch(p) });
      },
    });
  }

  /** Starts consuming, retrying with backoff until the consumer runs. */
  async start(): Promise<void> {
    const { groupId, topics, logger } = this.options;
    this.commitTimer = setInterval(() => void this.commit(), this.options.commitIntervalMs ?? 1000);
    await this.group.start();
    logger.info({ groupId, topics, maxInFlight: this.options.maxInFlight }, 'windowed consumer started');
  }

  /** Messages taken and not yet finished. */
  get pending(): number {
    return this.inFlight;
  }

  /** The partitions this instance owns, by topic (undefined while joining). */
  assignment(): Record<string, number[]> | undefined {
    return this.group.assignment();
  }

  /** Partitions paused until their head message is due, with that time. */
  waiting(): { topic: string; partition: number; until: number }[] {
    return [...this.windows.values()].filter((w) => w.resumeTimer).map((w) => ({ ...w.source, until: w.resumeAt }));
  }

  private onJoin(assigned: Record<string, number[]>): void {
    // Partitions given to another instance: their in-flight messages finish here but are not
    // committed by us; the new owner reads from the last committed offset.
    for (const [key, w] of this.windows) {
      if (!(assigned[w.source.topic] ?? []).includes(w.source.partition)) {
        w.revoked = true;
        // kafkajs keeps a partition paused across rebalances: were it assigned here again
        // later, nothing would resume it. Its new owner pauses it if its head is still not due.
        if (w.resumeTimer) {
          clearTimeout(w.resumeTimer);
          this.group.consumer?.resume([{ topic: w.source.topic, partitions: [w.source.partition] }]);
        }
        this.windows.delete(key);
      }
    }
  }

  private window(source: MessageSource): PartitionWindow {
    const key = `${source.topic}\u0000${source.partition}`;
    let w = this.windows.get(key);
    if (!w) this.windows.set(key, (w = new PartitionWindow(source)));
    return w;
  }

  private async processBatch({ batch, resolveOffset, heartbeat, pause, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const source = { topic: batch.topic, partition: batch.partition };
    const w = this.window(source);
    for (const message of batch.messages) {
      if (!isRunning() || isStale() || this.stopping || w.revoked) return;
      const offset = BigInt(message.offset);
      // After a rejoin kafkajs reads again from the committed offset; what this instance
      // already took (and still owns) is in flight or done, so it is not handled twice.
      if (offset < w.next) continue;
      const due = this.options.dueAt?.(message, source) ?? null;
      if (due !== null && due > Date.now()) {
        this.pauseUntil(w, due, pause);
        return;
      }
      while (this.inFlight >= this.options.maxInFlight) {
        // Heartbeats only when nothing finished for a second: usually a slot frees up first.
        if (!(await this.slotOrTimeout(1000))) await heartbeat();
        if (!isRunning() || this.stopping) return;
      }
      w.take(offset);
      resolveOffset(message.offset);
      this.inFlight++;
      void this.run(w, message, source);
    }
    // Past trailing control records of transactions too, so the committed offset can reach the end.
    const last = BigInt(batch.lastOffset());
    if (last + 1n > w.next) w.next = last + 1n;
    resolveOffset(batch.lastOffset());
    await heartbeat();
  }

  /** True when a message finished, false after `ms` without one (so heartbeats go on while all are slow). */
  private slotOrTimeout(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.slotFreed = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  private pauseUntil(w: PartitionWindow, due: number, pause: () => () => void): void {
    const resume = pause();
    clearTimeout(w.resumeTimer);
    w.resumeAt = due;
    w.resumeTimer = setTimeout(
      () => {
        w.resumeTimer = undefined;
        if (!this.stopping) resume();
      },
      Math.max(0, due - Date.now()),
    );
    this.options.logger.debug({ ...w.source, until: new Date(due).toISOString() }, 'partition paused until its next message is due');
  }

  private async run(w: PartitionWindow, message: KafkaMessage, source: MessageSource): Promise<void> {
    // Outside a batch there is no kafkajs heartbeat to send: the fetch loop keeps the membership.
    const keepAlive: KeepAlive = { heartbeat: async () => undefined, active: () => !this.stopping && !w.revoked };
    let finished = false;
    try {
      const judged = await this.judge.read(message, source, keepAlive);
      let poison = judged.poison;
      if (poison === undefined)
        poison = (await this.judge.attempt(message, source, keepAlive, () => this.options.handle(judged.value as T, message, source))).poison;
      if (poison !== undefined) {
        const dead = this.judge.deadLetterOf(message, source, poison);
        await this.judge.waitOut(
          async () => (await this.producer.get()).send({ topic: this.judge.deadLetterTopic, messages: [dead] }),
          { ...source, offset: message.offset },
          keepAlive,
        );
      }
      finished = true;
    } catch (err) {
      if (!(err instanceof AbandonedError))
        this.options.logger.error({ err, ...source, offset: message.offset }, 'message left unfinished; it is read again after a restart or rebalance');
    } finally {
      // An abandoned message (shutdown, partition moved) stays unfinished, so it is never committed.
      if (finished) w.finish(BigInt(message.offset));
      this.inFlight--;
      this.slotFreed?.();
      this.slotFreed = undefined;
    }
  }

  /** Commits, per owned partition, the offset of its lowest unfinished message. */
  commit(): Promise<void> {
    this.committing ??= this.commitNow().finally(() => (this.committing = undefined));
    return this.committing;
  }

  private async commitNow(): Promise<void> {
    const consumer = this.group.consumer;
    if (!consumer) return;
    const offsets = [];
    for (const w of this.windows.values()) {
      const offset = w.committable();
      if (offset > w.committed && offset >= 0n) offsets.push({ w, offset });
    }
    if (offsets.length === 0) return;
    try {
      await consumer.commitOffsets(offsets.map(({ w, offset }) => ({ ...w.source, offset: offset.toString() })));
      for (const { w, offset } of offsets) if (offset > w.committed) w.committed = offset;
    } catch (err) {
      // A rebalance in progress: the next commit after the rejoin covers it.
      this.options.logger.debug({ err }, 'offset commit failed; will commit again');
    }
  }

  /**
   * Stops taking messages, lets those in flight finish (up to `timeoutMs`), commits what
   * finished, and leaves the group.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    clearInterval(this.commitTimer);
    for (const w of this.windows.values()) clearTimeout(w.resumeTimer);
    const until = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < until) await sleep(50);
    if (this.inFlight > 0) this.options.logger.warn({ unfinished: this.inFlight }, 'stopping with messages unfinished; they will be read again');
    await this.commit();
    await this.group.stop();
    await this.producer.disconnect();
  }
}
