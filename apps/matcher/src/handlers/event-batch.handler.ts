import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import { Counter, Histogram } from 'prom-client';
import type { MatcherConfig } from '@triggers/config';
import { ContractError, EVENT_TYPE_IDS, EventEnvelope, EventType, HEADERS, eventTopicKeyOf, leadKey, triggerKey } from '@triggers/contracts';
import { BatchOutput, MessageSource, TransactionalHandler, TransactionalProcessor } from '@triggers/kafka';
import { AppRuntime, consumerHealthCheck } from '@triggers/runtime';
import { SpanKind, TraceSpan, kafkaProcessAttributes } from '@triggers/tracing';
import { MatchOutput, matchEvent } from '../services/event-matcher';
import { TriggerConfigStore } from '../services/trigger-config.store';

type Encoder = (value: unknown) => Buffer;
type BatchCounts = { matched: number; unmatched: number; webhooks: number; leads: number; stopTimer: () => void; span?: TraceSpan };

/**
 * The matcher's consume → produce loop over the six event topics. Each batch runs in one Kafka
 * transaction (see TransactionalProcessor): its commands, log records, dead letters and consumed
 * offsets become visible together or not at all, so a crash or rebalance neither loses nor
 * duplicates a command. Unreadable messages go to the dead-letter topic inside the same
 * transaction, and the partition keeps flowing.
 */
@Injectable()
export class EventBatchHandler implements TransactionalHandler<EventEnvelope>, OnApplicationBootstrap, OnApplicationShutdown {
  private processor?: TransactionalProcessor<EventEnvelope>;
  private readonly typeOfTopic: Map<string, EventType>;
  private readonly events: Counter;
  private readonly commands: Counter;
  private readonly batchSeconds: Histogram;

  constructor(
    private readonly store: TriggerConfigStore,
    private readonly rt: AppRuntime<MatcherConfig>,
  ) {
    const { config, metrics: registry } = rt;
    rt.health.register(
      consumerHealthCheck(
        'eventConsumer',
        config.groupId,
        () => this.processor,
        () => ({ instanceId: config.instanceId }),
      ),
    );
    this.typeOfTopic = new Map(EVENT_TYPE_IDS.map((t) => [config.kafka.topics[eventTopicKeyOf(t)], t]));
    this.events = new Counter({
      name: 'triggers_matcher_events_total',
      help: 'Events judged, by type and outcome',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    });
    this.commands = new Counter({ name: 'triggers_matcher_commands_total', help: 'Commands produced, by kind', labelNames: ['kind'], registers: [registry] });
    this.batchSeconds = new Histogram({
      name: 'triggers_matcher_batch_seconds',
      help: 'Time to judge one batch (before its commit)',
      registers: [registry],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    });
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
    await this.rt.keepStarting('matcher', () => this.start(), { stopped: () => this.stopping, cleanup: () => this.store.stop() });
  }

  private async start(): Promise<void> {
    // No event is judged before every trigger that existed at start-up is known.
    await this.store.load();
    if (this.stopping) return;
    const topics = this.rt.config.kafka.topics;
    this.processor = new TransactionalProcessor<EventEnvelope>({
      ...this.rt.engine(this.rt.config.groupId),
      transactionalIdPrefix: this.rt.config.groupId,
      transactionTimeoutMs: this.rt.config.transactionTimeoutMs,
      topics: [...this.typeOfTopic.keys()],
      outputTopics: [topics.webhookCommands, topics.leadCommands, topics.log],
      records: (topic) => eventTopicKeyOf(this.typeOfTopic.get(topic)!),
      check: (value, source) => this.check(value, source),
      deadLetterTopic: topics.deadLetterEvents,
      handler: this,
    });
    await this.processor.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
    await this.processor?.stop();
  }

  /** Encoders taken once per batch: judging a message then never waits. */
  private encoders?: { webhook: Encoder; lead: Encoder; log: Encoder };
  /** What the batches under way (one per partition, several at once) judged, for per-batch metrics. */
  private readonly batches = new Map<string, BatchCounts>();

  async beginBatch(source: MessageSource): Promise<void> {
    const tracing = this.rt.tracing;
    const span = tracing.enabled
      ? tracing.startSpan(`process ${source.topic}`, {
          kind: SpanKind.CONSUMER,
          attributes: { ...kafkaProcessAttributes(source), 'messaging.consumer.group.name': this.rt.config.groupId },
        })
      : undefined;
    this.batches.set(`${source.topic}:${source.partition}`, {
      matched: 0,
      unmatched: 0,
      webhooks: 0,
      leads: 0,
      stopTimer: this.batchSeconds.startTimer(),
      span,
    });
    if (this.encoders) return;
    const [webhook, lead, log] = await Promise.all([
      this.rt.serde.encoderFor('webhookCommands'),
      this.rt.serde.encoderFor('leadCommands'),
      this.rt.serde.encoderFor('log'),
    ]);
    this.encoders = { webhook, lead, log };
  }

  /** Checks an event beyond its schema: the type of its topic, and the ids every event carries. */
  private check(value: EventEnvelope, source: MessageSource): void {
    const expected = this.typeOfTopic.get(source.topic);
    if (!EVENT_TYPE_IDS.includes(value.type)) throw new ContractError(`unknown event type "${value.type}"`, '', 'unknown_type');
    if (value.type !== expected) throw new ContractError(`event type "${value.type}" on the ${expected} topic`, '', 'wrong_topic');
    if (!value.tenantId || !value.eventId) throw new ContractError('event without tenantId or eventId', '', 'invalid_envelope');
  }

  handle(event: EventEnvelope, message: KafkaMessage, source: MessageSource, out: BatchOutput): void {
    const topics = this.rt.config.kafka.topics;
    const encoders = this.encoders!;
    const tracing = this.rt.tracing;
    // The match continues the event's trace (its producer's traceparent) or starts one.
    const span = tracing.enabled
      ? tracing.startSpan(`match ${event.type}`, {
          parent: message.headers,
          attributes: () => ({
            ...kafkaProcessAttributes(source, message.offset),
            'messaging.message.id': event.eventId,
            'triggers.tenant_id': event.tenantId,
          }),
        })
      : undefined;
    const result = matchEvent(this.store.index, event, Date.now());
    const matched = result.logs.some((l) => l.step === 'matched');
    if (span?.recording)
      span.setAttributes({
        'triggers.matched': matched,
        'triggers.webhooks': result.webhookCommands.length,
        'triggers.lead_moves': result.leadCommands.length,
      });
    span?.end();
    if (result.logs.length === 0) return this.count(source, result, matched, event, message);
    // What follows from the event carries its trace: the match span, or (tracing off) the event's context passed on.
    const trace = span ?? tracing.startSpan('match', { parent: message.headers });
    const headers = { [HEADERS.correlationId]: event.eventId, ...trace.headers() };
    for (const r of result.logs) r.traceId = trace.traceId;
    for (const c of result.webhookCommands) out.push(topics.webhookCommands, { key: triggerKey(c.tenantId, c.triggerId), value: encoders.webhook(c), headers });
    // Keyed by lead: one lead's moves stay in order.
    for (const c of result.leadCommands) out.push(topics.leadCommands, { key: leadKey(c.tenantId, c.leadId), value: encoders.lead(c), headers });
    for (const r of result.logs) out.push(topics.log, { key: triggerKey(r.tenantId, r.triggerId!), value: encoders.log(r) });
    this.count(source, result, matched, event, message);
  }

  private count(source: MessageSource, result: MatchOutput, matched: boolean, event: EventEnvelope, message: KafkaMessage): void {
    const counts = this.batches.get(`${source.topic}:${source.partition}`);
    if (counts) {
      counts[matched ? 'matched' : 'unmatched']++;
      counts.webhooks += result.webhookCommands.length;
      counts.leads += result.leadCommands.length;
    }
    if (!matched && this.rt.logger.isLevelEnabled('trace')) {
      this.rt.logger.trace(
        { topic: source.topic, partition: source.partition, offset: message.offset, tenantId: event.tenantId, correlationId: event.eventId },
        'event matched no trigger',
      );
    }
    if (matched && this.rt.logger.isLevelEnabled('debug')) {
      this.rt.logger.debug(
        {
          topic: source.topic,
          partition: source.partition,
          offset: message.offset,
          tenantId: event.tenantId,
          correlationId: event.eventId,
          webhooks: result.webhookCommands.length,
          leads: result.leadCommands.length,
        },
        'event matched',
      );
    }
  }

  endBatch(source: MessageSource): void {
    const type = this.typeOfTopic.get(source.topic);
    const key = `${source.topic}:${source.partition}`;
    const counts = this.batches.get(key);
    if (!counts) return;
    this.batches.delete(key);
    const { matched, unmatched, webhooks, leads } = counts;
    if (matched > 0) this.events.inc({ type, outcome: 'matched' }, matched);
    if (unmatched > 0) this.events.inc({ type, outcome: 'unmatched' }, unmatched);
    this.commands.inc({ kind: 'webhook' }, webhooks);
    this.commands.inc({ kind: 'lead' }, leads);
    counts.stopTimer();
    counts.span?.setAttributes({ 'messaging.batch.message_count': matched + unmatched, 'triggers.matched': matched });
    counts.span?.end();
  }
}
