import type { Kafka, KafkaMessage, Message } from 'kafkajs';
import type { Registry } from 'prom-client';
import { ContractError, RecordTopicKey, valueSchemaOf } from '@triggers/contracts';
import { classify } from '@triggers/errors';
import type { Logger } from '@triggers/logging';
import type { AvroSerde } from './avro-serde';
import type { ConsumerStatus } from './consumer-status';
import { DEFAULT_DEAD_LETTER_MAX_BYTES, MessageSource, deadLetter } from './dead-letters';

/** How an engine keeps its group membership while a message waits, and tells whether waiting still makes sense. */
export interface KeepAlive {
  /** Sends a heartbeat (kafkajs's, inside a batch); throws when the group is rebalancing. */
  heartbeat(): Promise<void>;
  /** False once the consumer stops or the partition was taken away: the wait is abandoned. */
  active(): boolean;
}

/**
 * A message was left unfinished because its consumer stopped or lost the partition while it
 * waited: not an error of the message, and never committed, so its next owner handles it.
 */
export class AbandonedError extends Error {
  constructor() {
    super('abandoned: the consumer stopped or lost the partition while the message waited');
    this.name = 'AbandonedError';
  }
}

/** What every consumer engine needs to read its values and dead-letter poison. */
export interface MessageJudgeOptions<T> {
  serde: AvroSerde;
  /**
   * Whose records the messages must be: a topic key (its declared schema), or one per topic read
   * (the matcher's event topics). Tests and benches may read a topic of their own as one of these.
   */
  records: RecordTopicKey | ((topic: string) => RecordTopicKey);
  /** Further checks of a decoded value; whatever it throws is poison unless it says otherwise. */
  check?: (value: T, source: MessageSource) => void;
  /** Where poison goes (the compacted-topic reader reports poison to its app instead). */
  deadLetterTopic?: string;
  /** Largest dead letter sent whole (default 1,000,000 bytes); a larger one keeps a prefix. */
  deadLetterMaxBytes?: number;
  logger: Logger;
  status: ConsumerStatus;
  /** First and longest wait between tries while a dependency is down. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

/** One message judged: its value, or the poison error that makes it a dead letter. */
export type Judged<T> = { value: T; poison?: undefined } | { value?: undefined; poison: unknown };

/** What every consumer engine takes: the group, its topics, how to read their values, where poison goes. */
export interface ConsumerEngineOptions<T> extends Omit<MessageJudgeOptions<T>, 'status'> {
  kafka: Kafka;
  groupId: string;
  topics: string[];
  sessionTimeoutMs?: number;
  /** Where the engine's counters go (`triggers_consumer_*_total`). */
  metrics?: Registry;
  /** How long restarts of a stopped consumer may keep failing before /livez fails. */
  giveUpAfterMs?: number;
}

/**
 * The consumer engines' one way of judging a message: decode it as the topic's record, check it,
 * run the handler's step, and read any error through `classify`. Poison becomes a dead letter
 * (with the reason, class and source, counted and logged once); a transient or fatal error is
 * waited out in place with capped exponential backoff, heartbeats going, each step logged with
 * its cause and the dependency named in /healthz, and the same message is tried again.
 */
export class MessageJudge<T> {
  constructor(readonly options: MessageJudgeOptions<T>) {}

  get deadLetterTopic(): string {
    if (!this.options.deadLetterTopic) throw new Error('this engine has no dead-letter topic');
    return this.options.deadLetterTopic;
  }

  private schemaOf(topic: string): string {
    const r = this.options.records;
    return valueSchemaOf(typeof r === 'string' ? r : r(topic));
  }

  private checked(decoded: { schemaName: string; value: T }, source: MessageSource): T {
    const expected = this.schemaOf(source.topic);
    if (decoded.schemaName !== expected) {
      throw new ContractError(`a ${decoded.schemaName} where a ${expected} belongs`, '', 'wrong_record');
    }
    this.options.check?.(decoded.value, source);
    return decoded.value;
  }

  /** Judges a message without waiting when its schema is already known; undefined when it must be fetched ({@link read}). */
  readKnown(message: KafkaMessage, source: MessageSource): Judged<T> | undefined {
    try {
      const decoded = this.options.serde.decodeKnown<T>(message.value);
      return decoded && { value: this.checked(decoded, source) };
    } catch (err) {
      return { poison: err };
    }
  }

  /** Judges a message, fetching its writer's schema when needed (a registry outage is waited out). */
  async read(message: KafkaMessage, source: MessageSource, keepAlive: KeepAlive): Promise<Judged<T>> {
    return (
      this.readKnown(message, source) ??
      this.attempt(message, source, keepAlive, async () => this.checked(await this.options.serde.decode<T>(message.value), source))
    );
  }

  /**
   * Runs `step` for one message: its result, or the poison it threw. Transient and fatal errors
   * are waited out and `step` runs again.
   * @throws AbandonedError when the consumer stops or loses the partition meanwhile.
   */
  async attempt<R>(message: KafkaMessage, source: MessageSource, keepAlive: KeepAlive, step: () => R | Promise<R>): Promise<Judged<R>> {
    try {
      return { value: await this.waitOut(step, { ...source, offset: message.offset }, keepAlive) };
    } catch (err) {
      if (err instanceof AbandonedError) throw err;
      return { poison: err };
    }
  }

  /**
   * Calls `fn` until it succeeds or throws poison (rethrown), waiting out transient and fatal
   * errors with capped exponential backoff while `keepAlive` heartbeats.
   * @throws AbandonedError when the consumer stops or loses the partition meanwhile.
   */
  async waitOut<R>(fn: () => R | Promise<R>, context: object, keepAlive: KeepAlive): Promise<R> {
    const { logger, status } = this.options;
    let delay = this.options.retryMinMs ?? 500;
    let waitedFor: string | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await fn();
        if (waitedFor) {
          status.recovered(waitedFor);
          logger.info({ ...context, dependency: waitedFor, attempts: attempt }, 'dependency answered again; going on');
        }
        return result;
      } catch (err) {
        if (err instanceof AbandonedError) throw err;
        const c = classify(err);
        if (c.kind === 'poison') throw err;
        if (c.rebalance) {
          logger.info({ ...context, errorClass: c.errorClass, err: c.reason }, "rebalance: this work is handed back to the partition's owner");
          throw new AbandonedError();
        }
        waitedFor = c.dependency ?? 'unknown';
        status.waiting(waitedFor, c.kind, c.reason);
        const line = { ...context, dependency: waitedFor, kind: c.kind, errorClass: c.errorClass, err: c.reason, attempt, retryInMs: delay };
        if (c.kind === 'fatal') logger.error(line, 'dependency refused the consumer (configuration?); the message waits');
        else logger.warn(line, 'dependency unavailable; the message waits and is tried again');
        await this.pause(delay, keepAlive);
        delay = Math.min(delay * 2, this.options.retryMaxMs ?? 30_000);
      }
    }
  }

  /** Waits `ms`, heartbeating at least every second. */
  private async pause(ms: number, keepAlive: KeepAlive): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      if (!keepAlive.active()) throw new AbandonedError();
      try {
        await keepAlive.heartbeat();
      } catch {
        // A rebalance: the batch must end so the consumer can rejoin; its next owner reads it again.
        throw new AbandonedError();
      }
      const left = until - Date.now();
      if (left <= 0) return;
      await new Promise((r) => setTimeout(r, Math.min(1000, left)));
    }
  }

  /** The dead letter of a poison message, counted and logged once. */
  deadLetterOf(message: KafkaMessage, source: MessageSource, err: unknown): Message {
    const c = classify(err);
    this.options.status.deadLettered(c.errorClass);
    this.options.logger.warn(
      { ...source, offset: message.offset, errorClass: c.errorClass, reason: c.reason, deadLetterTopic: this.deadLetterTopic },
      'message dead-lettered',
    );
    return deadLetter(message, source, c, this.options.deadLetterMaxBytes ?? DEFAULT_DEAD_LETTER_MAX_BYTES);
  }
}
