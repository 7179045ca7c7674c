import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka, KafkaMessage, Message } from 'kafkajs';
import { Counter, Histogram, Registry } from 'prom-client';
import type { MatcherConfig } from '@triggers/config';
import { ContractError, EVENT_TYPE_IDS, EventEnvelope, EventType, SCHEMAS, eventTopicKeyOf } from '@triggers/contracts';
import { AvroSerde, OutgoingMessages, TransactionalProcessor, deadLetter } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import { APP_CONFIG, APP_LOGGER, AVRO_SERDE, HEALTH_CHECKS, HealthRegistry, consumerHealthCheck, KAFKA, METRICS_REGISTRY } from '@triggers/runtime';
import { matchEvent } from '../services/event-matcher';
import { TriggerConfigStore } from '../services/trigger-config.store';

/** Why a message went to the dead-letter topic. */
type Poison = { reason: string; errorClass: string };

/**
 * The matcher's consume → produce loop over the six event topics. Each batch runs in one Kafka
 * transaction (see TransactionalProcessor): its commands, log records, dead letters and consumed
 * offsets become visible together or not at all, so a crash or rebalance neither loses nor
 * duplicates a command. Unreadable messages go to the dead-letter topic inside the same
 * transaction, and the partition keeps flowing.
 */
@Injectable()
export class EventBatchHandler implements OnApplicationBootstrap, OnApplicationShutdown {
  private processor?: TransactionalProcessor;
  private readonly typeOfTopic: Map<string, EventType>;
  private readonly events: Counter;
  private readonly commands: Counter;
  private readonly deadLetters: Counter;
  private readonly batchSeconds: Histogram;

  constructor(
    private readonly store: TriggerConfigStore,
    @Inject(AVRO_SERDE) private readonly serde: AvroSerde,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(APP_CONFIG) private readonly config: MatcherConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(HEALTH_CHECKS) health: HealthRegistry,
  ) {
    health.register(consumerHealthCheck('eventConsumer', config.groupId, () => this.processor, () => ({ instanceId: config.instanceId })));
    this.typeOfTopic = new Map(EVENT_TYPE_IDS.map((t) => [config.kafka.topics[eventTopicKeyOf(t)], t]));
    this.events = new Counter({ name: 'triggers_matcher_events_total', help: 'Events judged, by type and outcome', labelNames: ['type', 'outcome'], registers: [registry] });
    this.commands = new Counter({ name: 'triggers_matcher_commands_total', help: 'Commands produced, by kind', labelNames: ['kind'], registers: [registry] });
    this.deadLetters = new Counter({ name: 'triggers_matcher_dead_letters_total', help: 'Event messages dead-lettered, by error class', labelNames: ['error'], registers: [registry] });
    this.batchSeconds = new Histogram({ name: 'triggers_matcher_batch_seconds', help: 'Time to judge one batch (before its commit)', registers: [registry], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5] });
  }

  private stopping = false;
  private running?: Promise<void>;

  /**
   * Starts in the background, so /healthz answers (503 until the trigger config is loaded) and
   * a broker that is not up yet is retried with backoff rather than crash-looping the process.
   */
  onApplicationBootstrap(): void {
    this.running = this.startWithRetry();
  }

  private async startWithRetry(): Promise<void> {
    for (let delay = 1000; !this.stopping; delay = Math.min(delay * 2, 30_000)) {
      try {
        await this.start();
        return;
      } catch (err) {
        this.logger.warn({ err, retryInMs: delay }, 'matcher could not start; retrying');
        await this.store.stop().catch(() => undefined);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async start(): Promise<void> {
    // No event is judged before every trigger that existed at start-up is known.
    await this.store.load();
    if (this.stopping) return;
    this.processor = new TransactionalProcessor({
      kafka: this.kafka,
      groupId: this.config.groupId,
      transactionalIdPrefix: this.config.groupId,
      transactionTimeoutMs: this.config.transactionTimeoutMs,
      sessionTimeoutMs: this.config.kafka.sessionTimeoutMs,
      topics: [...this.typeOfTopic.keys()],
      logger: this.logger,
      transform: (messages, source) => this.transform(messages, source),
    });
    await this.processor.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
    await this.processor?.stop();
  }

  private async transform(messages: KafkaMessage[], source: { topic: string; partition: number }): Promise<OutgoingMessages[]> {
    const timer = this.batchSeconds.startTimer();
    const topics = this.config.kafka.topics;
    // Encoders are taken once per batch: the loop below then never waits, message after message.
    const [encodeWebhook, encodeLead, encodeLog] = await Promise.all([
      this.serde.encoderFor(topics.webhookCommands, SCHEMAS.webhookCommand),
      this.serde.encoderFor(topics.leadCommands, SCHEMAS.leadCommand),
      this.serde.encoderFor(topics.log, SCHEMAS.logRecord),
    ]);
    const webhook: Message[] = [];
    const lead: Message[] = [];
    const log: Message[] = [];
    const dead: Message[] = [];
    // One partition of one event topic: every event judged here is of the topic's type.
    const judged = { matched: 0, unmatched: 0 };
    const debug = this.logger.isLevelEnabled('debug');
    const trace = this.logger.isLevelEnabled('trace');
    const now = Date.now();
    for (const message of messages) {
      const decoded = this.readKnown(message, source.topic) ?? (await this.read(message, source.topic));
      if ('reason' in decoded) {
        this.deadLetters.inc({ error: decoded.errorClass });
        this.logger.warn({ topic: source.topic, partition: source.partition, offset: message.offset, reason: decoded.reason }, 'event dead-lettered');
        dead.push(deadLetter(message, source, decoded.reason, decoded.errorClass));
        continue;
      }
      const event = decoded.event;
      const out = matchEvent(this.store.index, event, now, this.config.webhook.retryWindowMs);
      const matched = out.logs.some((l) => l.step === 'matched');
      judged[matched ? 'matched' : 'unmatched']++;
      const headers = { 'correlation-id': event.eventId };
      for (const c of out.webhookCommands) webhook.push({ key: `${c.tenantId}/${c.triggerId}`, value: encodeWebhook(c), headers });
      // Keyed by lead: one lead's moves stay in order.
      for (const c of out.leadCommands) lead.push({ key: `${c.tenantId}/${c.leadId}`, value: encodeLead(c), headers });
      for (const r of out.logs) log.push({ key: `${r.tenantId}/${r.triggerId}`, value: encodeLog(r) });
      if (!matched && trace) {
        this.logger.trace({ topic: source.topic, partition: source.partition, offset: message.offset, tenantId: event.tenantId, correlationId: event.eventId }, 'event matched no trigger');
      }
      if (matched && debug) {
        this.logger.debug(
          { topic: source.topic, partition: source.partition, offset: message.offset, tenantId: event.tenantId, correlationId: event.eventId, webhooks: out.webhookCommands.length, leads: out.leadCommands.length },
          'event matched',
        );
      }
    }
    const type = this.typeOfTopic.get(source.topic);
    for (const [outcome, n] of Object.entries(judged)) if (n > 0) this.events.inc({ type, outcome }, n);
    this.commands.inc({ kind: 'webhook' }, webhook.length);
    this.commands.inc({ kind: 'lead' }, lead.length);
    timer();
    return [
      { topic: topics.webhookCommands, messages: webhook },
      { topic: topics.leadCommands, messages: lead },
      { topic: topics.log, messages: log },
      { topic: topics.deadLetterEvents, messages: dead },
    ];
  }

  /**
   * Decodes and checks one event message. Unreadable ones are poison (dead-lettered); a registry
   * outage is not: it throws, the transaction aborts and the batch is read again later.
   */
  private async read(message: KafkaMessage, topic: string): Promise<{ event: EventEnvelope } | Poison> {
    try {
      return this.check((await this.serde.decode<EventEnvelope>(message.value)).value, topic);
    } catch (err) {
      return undecodable(err);
    }
  }

  /** {@link read} without waiting, when the message's schema is already known; else undefined. */
  private readKnown(message: KafkaMessage, topic: string): { event: EventEnvelope } | Poison | undefined {
    try {
      const decoded = this.serde.decodeKnown<EventEnvelope>(message.value);
      return decoded && this.check(decoded.value, topic);
    } catch (err) {
      return undecodable(err);
    }
  }

  private check(value: EventEnvelope, topic: string): { event: EventEnvelope } | Poison {
    const expected = this.typeOfTopic.get(topic);
    if (!EVENT_TYPE_IDS.includes(value.type)) return { reason: `unknown event type "${value.type}"`, errorClass: 'unknown_type' };
    if (value.type !== expected) return { reason: `event type "${value.type}" on the ${expected} topic`, errorClass: 'wrong_topic' };
    if (!value.tenantId || !value.eventId) return { reason: 'event without tenantId or eventId', errorClass: 'invalid_envelope' };
    return { event: value };
  }
}

/** A message that does not decode is poison; anything else (the registry is down) is thrown, to abort the batch. */
function undecodable(err: unknown): Poison {
  if (err instanceof ContractError) return { reason: err.message, errorClass: 'undecodable' };
  throw err;
}
