import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { classify } from '@triggers/errors';
import { ConsumerStatus } from './consumer-status';
import type { MessageSource } from './dead-letters';
import { SupervisedConsumer, finishedWithin, onBatchEnd } from './group-consumer';
import { AbandonedError, ConsumerEngineOptions, KeepAlive, MessageJudge } from './message-judge';
import { BatchOutput, OutputCollector, EngineTransactionOptions, PartitionTransactions } from './partition-transactions';

/** Options of a {@link WindowedConsumer}. */
export interface WindowedConsumerOptions<T> extends ConsumerEngineOptions<T>, EngineTransactionOptions {
  /**
   * Handles one decoded message and pushes what it makes to `out`. A transient error is waited
   * out and the message tried again in place (what the failed try pushed is dropped, and no
   * offset at or after it is committed meanwhile); anything else dead-letters it.
   */
  handle: (value: T, message: KafkaMessage, source: MessageSource, out: BatchOutput) => Promise<void>;
  /** Messages taken and not finished, across all partitions; reading waits while at the cap. */
  maxInFlight: number;
  /**
   * How many of the messages under way are parked: waiting on something outside this consumer
   * (the dispatcher's deliveries waiting for a connection to their endpoint). Up to `maxInFlight`
   * of them are not counted against the cap, so they cannot hold it; tell {@link WindowedConsumer.wake}
   * when one parks.
   */
  parked?: () => number;
  /**
   * When a message may be handled (epoch ms), for delay topics; null means now. A partition
   * whose next message is not yet due is paused until it is.
   */
  dueAt?: (message: KafkaMessage, source: MessageSource) => number | null;
  /** How often each partition's finished messages are committed, with what they made, in one transaction. */
  commitIntervalMs?: number;
  maxWaitTimeInMs?: number;
}

/** A message taken from a partition: finished once handled, with what it made. */
interface Taken {
  offset: bigint;
  done: boolean;
  out?: OutputCollector;
}

/**
 * The messages of one partition taken in this assignment, in offset order. What is committed is
 * the run of finished messages at the head, with everything they made, in one transaction: a
 * crash or a lost partition hands the unfinished messages, and the finished ones not yet
 * committed, to the next owner, and nothing they made was written.
 */
export class PartitionWindow {
  /** Offsets taken and not yet committed, oldest first. */
  private taken: Taken[] = [];
  private readonly byOffset = new Map<bigint, Taken>();
  /** The offset after the last one read from this partition. */
  next = -1n;
  /** The partition's committed offset as this window knows it (-1 before its floor is read). */
  committed = -1n;
  revoked = false;
  /** The commit of this partition under way: one at a time. */
  committing?: Promise<void>;
  resumeTimer?: NodeJS.Timeout;
  resumeAt = 0;

  constructor(readonly source: MessageSource) {}

  take(offset: bigint): void {
    const entry = { offset, done: false };
    this.taken.push(entry);
    this.byOffset.set(offset, entry);
    this.next = offset + 1n;
  }

  finish(offset: bigint, out: OutputCollector): void {
    const entry = this.byOffset.get(offset);
    if (!entry) return;
    entry.done = true;
    entry.out = out;
    this.byOffset.delete(offset);
  }

  /**
   * The finished run at the head: how many messages, what they made, and the offset to commit
   * after them (everything read so far when nothing is left unfinished). The messages keep what
   * they made until {@link committedHead}: a commit that fails is made again, whole.
   */
  head(): { count: number; out: OutputCollector; nextOffset: bigint } {
    const out = new OutputCollector();
    let count = 0;
    while (count < this.taken.length && this.taken[count].done) this.taken[count++].out!.copyInto(out);
    return { count, out, nextOffset: count < this.taken.length ? this.taken[count].offset : this.next };
  }

  /** Drops the first `count` messages, committed with `nextOffset`. */
  committedHead(count: number, nextOffset: bigint): void {
    this.taken = this.taken.slice(count);
    if (nextOffset > this.committed) this.committed = nextOffset;
  }

  /**
   * Forgets what lies below `floor`, committed already (by a commit whose answer was lost, or by
   * another owner): a message there still running finishes unrecorded.
   */
  dropBelow(floor: bigint): void {
    if (floor <= this.committed) return;
    this.committed = floor;
    for (const t of this.taken) if (t.offset < floor) this.byOffset.delete(t.offset);
    this.taken = this.taken.filter((t) => t.offset >= floor);
    if (this.next < floor) this.next = floor;
  }
}

/** How long a stop waits for its last commit. */
const FINAL_COMMIT_MS = 5_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Consume → produce with many messages in flight at once, across and within partitions: a slow
 * message holds back only what its partition commits, never the handling of the messages after
 * it. Every `commitIntervalMs`, each partition commits the run of finished messages at its head,
 * what they made and the offset after them, in one Kafka transaction ({@link PartitionTransactions}):
 * a crash or rebalance may handle a message again (its effects outside Kafka repeat), but what
 * handling writes to Kafka is written once. For delay topics, `dueAt` pauses a partition until its head message is due: every
 * message of one delay topic waits the same time, so each partition is ordered by due time and
 * only its head needs watching (no sleeping in handlers, no polling; heartbeats keep flowing).
 */
export class WindowedConsumer<T> {
  readonly status: ConsumerStatus;
  private readonly judge: MessageJudge<T>;
  private readonly group: SupervisedConsumer;
  private readonly transactions: PartitionTransactions;
  private readonly windows = new Map<string, PartitionWindow>();
  private inFlight = 0;
  private slotFreed?: () => void;
  private commitTimer?: NodeJS.Timeout;
  private stopping = false;
  /** Left the group: nothing more is committed. */
  private stopped = false;

  constructor(private readonly options: WindowedConsumerOptions<T>) {
    this.status = new ConsumerStatus(options.groupId, options.metrics);
    this.judge = new MessageJudge({ ...options, status: this.status });
    const { deadLetterTopic, outputTopics } = options;
    this.transactions = new PartitionTransactions({ ...options, outputTopics: deadLetterTopic ? [...outputTopics, deadLetterTopic] : outputTopics });
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
    await this.transactions.connect();
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
    this.transactions.rejoined();
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
    // Every partition held gets its window now, not at its first message: the next commit round
    // opens each one's transactional id, which ends what a previous owner's last transaction
    // left. An idle partition would otherwise never open it, and records of that transaction
    // left without markers (a broker stopping mid-commit) would hold every read_committed reader
    // of the partitions it wrote to, for good.
    for (const [topic, partitions] of Object.entries(assigned)) for (const partition of partitions) this.window({ topic, partition });
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
    // Below the floor was committed already: by a previous owner whose last transaction ended
    // after this consumer read its start offset, or by a commit of this one whose answer was lost.
    if (w.committed < 0n) w.dropBelow(await this.transactions.floor(source));
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
      while (this.busy() >= this.options.maxInFlight) {
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

  /** Messages under way that count against the cap: all but the parked ones, of which at most `maxInFlight` are left out. */
  private busy(): number {
    const parked = this.options.parked?.() ?? 0;
    return this.inFlight - Math.min(parked, this.options.maxInFlight);
  }

  /** A message finished or parked: reading may go on if it waited for a slot. */
  wake(): void {
    this.slotFreed?.();
    this.slotFreed = undefined;
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
    let out = new OutputCollector();
    let finished = false;
    try {
      const judged = await this.judge.read(message, source, keepAlive);
      let poison = judged.poison;
      if (poison === undefined)
        poison = (
          await this.judge.attempt(message, source, keepAlive, () => {
            out = new OutputCollector();
            return this.options.handle(judged.value as T, message, source, out);
          })
        ).poison;
      if (poison !== undefined) {
        out = new OutputCollector();
        out.push(this.judge.deadLetterTopic, this.judge.deadLetterOf(message, source, poison));
      }
      finished = true;
    } catch (err) {
      if (!(err instanceof AbandonedError))
        this.options.logger.error({ err, ...source, offset: message.offset }, 'message left unfinished; it is read again after a restart or rebalance');
    } finally {
      // An abandoned message (shutdown, partition moved) stays unfinished, so it is never committed.
      if (finished) w.finish(BigInt(message.offset), out);
      this.inFlight--;
      this.wake();
    }
  }

  /** Commits, per owned partition, its finished head with what it made: one transaction per partition. */
  async commit(): Promise<void> {
    // Each partition on its own: one whose commit waits (a broker restarting) holds back no other.
    await Promise.all([...this.windows.values()].map((w) => this.commitWindow(w)));
  }

  private commitWindow(w: PartitionWindow): Promise<void> {
    w.committing ??= this.commitHead(w).finally(() => (w.committing = undefined));
    return w.committing;
  }

  private async commitHead(w: PartitionWindow): Promise<void> {
    if (w.revoked || this.stopped || !this.group.consumer) return;
    try {
      // Read again after a failed commit (its producer was dropped with it): it may have gone through.
      w.dropBelow(await this.transactions.floor(w.source));
      const { count, out, nextOffset } = w.head();
      if (nextOffset <= w.committed) return;
      if (await this.transactions.commit(w.source, out.byTopic(), nextOffset, () => !w.revoked && !this.stopped)) w.committedHead(count, nextOffset);
    } catch (err) {
      // The same head is committed next time, after the floor is read again.
      const c = classify(err);
      if (c.rebalance)
        this.options.logger.info({ ...w.source, err: c.reason }, 'another instance holds this partition now; its owner handles what was not committed');
      else this.options.logger.warn({ ...w.source, err: c.reason, kind: c.kind }, 'commit of finished messages failed; it is tried again');
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
    // A commit that hangs on a broker that is down is left: what it holds is done again by the next owner.
    if (!(await finishedWithin(this.commit(), FINAL_COMMIT_MS)))
      this.options.logger.warn({ timeoutMs: FINAL_COMMIT_MS }, 'the last commit did not finish in time; the next owners do its messages again');
    this.stopped = true;
    await this.group.stop();
    await this.transactions.stop();
  }
}
